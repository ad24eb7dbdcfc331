package mfa

import (
	"context"

	"github.com/portcullis/portcullis/storage"
)

// Notifier writes the mail of the second-factor events a user hears about by email: an authenticator
// enrolled, a recovery code used, new recovery codes made (the lifecycle package). The mail is written
// to the outbox in the transaction of the change, with its audit event; ok is false when there is none.
type Notifier interface {
	NoticeMail(ctx context.Context, user storage.User, ev storage.AuditEvent) (m storage.OutboxMail, ok bool)
}

// notifies lists the audit actions the user is told of.
func notifies(action string) bool {
	switch action {
	case AuditEnrolmentConfirmed, AuditRecoveryCodeUsed, AuditRecoveryRegenerated:
		return true
	}
	return false
}

package mfa

import (
	"context"

	"github.com/portcullis/portcullis/storage"
)

// Notifier is told of the second-factor events a user hears about by email: an authenticator
// enrolled, a recovery code used, new recovery codes made. It is called after the event's audit
// record is written; the lifecycle package writes the mail to the outbox.
type Notifier interface {
	Notify(ctx context.Context, user storage.User, ev storage.AuditEvent)
}

// notifies lists the audit actions the user is told of.
func notifies(action string) bool {
	switch action {
	case AuditEnrolmentConfirmed, AuditRecoveryCodeUsed, AuditRecoveryRegenerated:
		return true
	}
	return false
}

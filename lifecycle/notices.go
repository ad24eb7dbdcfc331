package lifecycle

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/portcullis/portcullis/mail"
	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/storage"
)

// Kinds of security notifications (OutboxMail.Kind).
const (
	KindEnrolled           = "mfa_enrolled"
	KindRecoveryCodeUsed   = "recovery_code_used"
	KindRecoveryRegenerate = "recovery_codes_regenerated"
	KindMFAReset           = "mfa_reset"
	KindAdminMFAReset      = "admin_mfa_reset"
	KindPolicyChanged      = "mfa_policy_changed"
)

func when(t time.Time) string { return t.UTC().Format("2 January 2006 at 15:04 UTC") }

// NoticeMail is the mail of a second-factor event (mfa.Notifier), which mfa has the change write to the
// outbox in its own transaction. Without the tenant (a failed read) there is no mail, and that is logged.
func (s *Service) NoticeMail(ctx context.Context, u storage.User, ev storage.AuditEvent) (storage.OutboxMail, bool) {
	t, err := s.Store.TenantByID(ctx, u.TenantID)
	if err != nil {
		s.Log.ErrorContext(ctx, "notify", "action", ev.Action, "err", err)
		return storage.OutboxMail{}, false
	}
	m := mail.Message{TenantID: t.ID, TenantName: t.Name, UserID: u.ID, To: u.Email,
		After: []string{"If this was not you, tell your administrator now."}}
	from := ""
	if ev.Address != "" {
		from = " from the address " + ev.Address
	}
	switch ev.Action {
	case mfa.AuditEnrolmentConfirmed:
		app := ""
		if id, _ := ev.Detail["client_id"].(string); id != "" {
			app = id
			if c, err := s.Store.ClientByID(ctx, id); err == nil {
				app = c.Name
			}
			app = ", signing in to " + app
		}
		m.Kind, m.Subject = KindEnrolled, "A new authenticator was added to your account"
		m.Paragraphs = []string{"An authenticator app was set up for " + u.Email + " on " + when(ev.CreatedAt) + app + from + "."}
		if replaced, _ := ev.Detail["replaced"].(bool); replaced { // on the account page: a new phone
			m.Paragraphs = append(m.Paragraphs, "It replaced the app set up before: codes from the old app and the old recovery codes no longer work.")
		}
	case mfa.AuditRecoveryCodeUsed:
		left := fmt.Sprint(ev.Detail["codes_left"])
		m.Kind, m.Subject = KindRecoveryCodeUsed, "A recovery code was used"
		m.Paragraphs = []string{"A recovery code of " + u.Email + " was used to sign in on " + when(ev.CreatedAt) + from + ".",
			left + " recovery codes are left. Generate new ones on your account page when few are left."}
	case mfa.AuditRecoveryRegenerated:
		m.Kind, m.Subject = KindRecoveryRegenerate, "New recovery codes were generated"
		m.Paragraphs = []string{"New recovery codes were generated for " + u.Email + " on " + when(ev.CreatedAt) + from + ". The old ones no longer work."}
	default:
		return storage.OutboxMail{}, false
	}
	om := m.Outbox()
	om.CreatedAt = s.Now()
	return om, true
}

// MFAResetMail is the mail to a user whose authenticator an admin reset. Its link carries the
// enrolment code (the one secret it holds): following it and signing in needs no typing of the code.
func MFAResetMail(issuer string, t storage.Tenant, u storage.User, code string, expires time.Time) storage.OutboxMail {
	link := strings.TrimSuffix(issuer, "/") + "/login/enrol-code/link?" + url.Values{"code": {code}}.Encode()
	return mail.Message{Kind: KindMFAReset, TenantID: t.ID, TenantName: t.Name, UserID: u.ID, To: u.Email,
		Subject:    "Your two-factor authentication was reset",
		Paragraphs: []string{"An administrator of " + t.Name + " reset the two-factor authentication of " + u.Email + ". Set up your authenticator app again at your next sign-in."},
		Link:       link, LinkLabel: "Set up your authenticator (the link works until " + when(expires) + ")",
		After: []string{"If you did not ask for this, tell your administrator now."}}.Outbox()
}

// AdminNotice is a mail to one admin of the tenant about a change of its security (the policy, an
// admin's authenticator reset); the one who acted gets it too.
func AdminNotice(t storage.Tenant, admin storage.User, subject, text string) storage.OutboxMail {
	kind := KindPolicyChanged
	if strings.Contains(subject, "reset") {
		kind = KindAdminMFAReset
	}
	return mail.Message{Kind: kind, TenantID: t.ID, TenantName: t.Name, UserID: admin.ID, To: admin.Email, Subject: subject,
		Paragraphs: []string{text}, After: []string{"You get this because you are an administrator of " + t.Name + "."}}.Outbox()
}

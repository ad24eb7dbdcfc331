package tenantadmin

import (
	"context"
	"time"

	"github.com/portcullis/portcullis/lifecycle"
	"github.com/portcullis/portcullis/storage"
)

// activeAdmins lists the tenant's admins who are not disabled (and have a password), who hear about
// changes of the tenant's security.
func (s *Service) activeAdmins(ctx context.Context, tenantID string) ([]storage.User, error) {
	var out []storage.User
	for offset := 0; ; offset += 500 {
		us, err := s.Store.ListUsers(ctx, tenantID, offset, 500)
		if err != nil {
			return nil, err
		}
		for _, u := range us {
			if activeAdmin(u) && u.PasswordHash != "" {
				out = append(out, u)
			}
		}
		if len(us) < 500 {
			return out, nil
		}
	}
}

func who(a Actor) string {
	if a.Email != "" {
		return a.Email
	}
	return a.ID
}

// notifyPolicy tells every admin (the one who acted included) that the policy went on or off.
func (s *Service) notifyPolicy(ctx context.Context, tx Tx, a Actor, t storage.Tenant, admins []storage.User) error {
	state := "off"
	if t.MFAEnabled {
		state = "on"
	}
	text := "Two-factor authentication for everyone in " + t.Name + " was turned " + state + " by " + who(a) + " on " +
		s.Now().UTC().Format("2 January 2006 at 15:04 UTC") + "."
	for _, ad := range admins {
		if _, err := tx.EnqueueMail(ctx, stamp(lifecycle.AdminNotice(t, ad, "Two-factor authentication was turned "+state, text), s.Now())); err != nil {
			return err
		}
	}
	return nil
}

// notifyReset mails the user their reset (its link carries the enrolment code) and, for an admin's
// reset, every admin of the tenant.
// t is read before the transaction (SQLite has one connection, which the transaction holds).
func (s *Service) notifyReset(ctx context.Context, tx Tx, a Actor, t storage.Tenant, u storage.User, code string, expires time.Time, admins []storage.User) error {
	if s.Issuer == "" {
		return nil
	}
	if _, err := tx.EnqueueMail(ctx, stamp(lifecycle.MFAResetMail(s.Issuer, t, u, code, expires), s.Now())); err != nil {
		return err
	}
	text := "The two-factor authentication of the administrator " + u.Email + " was reset by " + who(a) + " on " +
		s.Now().UTC().Format("2 January 2006 at 15:04 UTC") + "."
	for _, ad := range admins {
		if _, err := tx.EnqueueMail(ctx, stamp(lifecycle.AdminNotice(t, ad, "An administrator's authenticator was reset", text), s.Now())); err != nil {
			return err
		}
	}
	return nil
}

func stamp(m storage.OutboxMail, now time.Time) storage.OutboxMail {
	m.CreatedAt = now
	return m
}

// Package lifecycle is the account lifecycle by email: password-reset and invitation links (random
// tokens stored by keyed hash, bound to purpose, user and tenant, single use, expiring) and the mail
// that carries them or tells a user what changed. Each change writes its audit event and its mail to
// the outbox in one transaction. The login UI, the admin API and pages, and the CLI call it; it depends
// on storage, secret, mail and pwpolicy only.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/portcullis/portcullis/mail"
	"github.com/portcullis/portcullis/pwpolicy"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/throttle"
)

// MaxResetMailsPerHour bounds the reset mails one account receives.
const MaxResetMailsPerHour = 5

// Errors of links. Every refused link is ErrLinkInvalid to the person holding it; the log says why.
var (
	ErrLinkInvalid = errors.New("link is invalid, used, revoked or expired")
)

// Service issues and redeems emailed links.
type Service struct {
	Store     *storage.Store
	Hash      *secret.KeyedHash // purpose "links"
	Hasher    *secret.Hasher    // argon2id for the new password
	Passwords *pwpolicy.Policy
	// Guesses counts wrong current passwords at a password change on the user's sign-in counter: a
	// session's holder cannot guess the password there without limit. nil: not counted (the CLI).
	Guesses   *throttle.Limiter
	Issuer    string // links point here: Issuer + "/login/reset?token=..."
	ResetTTL  time.Duration
	InviteTTL time.Duration
	Now       func() time.Time
	Log       *slog.Logger
}

// Actor says who caused a change, for audit events.
type Actor struct {
	ID      string // user or client id; "cli" for the CLI; "" for the user themselves
	Address string
}

func (s *Service) link(path, token string) string {
	return strings.TrimSuffix(s.Issuer, "/") + path + "?token=" + url.QueryEscape(token)
}

// newLink creates a link of purpose for u on tx and returns its token (only ever in the mail).
func (s *Service) newLink(ctx context.Context, tx *storage.Store, purpose string, u storage.User, createdBy string, ttl time.Duration) (string, error) {
	token := secret.RandomToken(32)
	now := s.Now()
	_, err := tx.CreateLink(ctx, storage.EmailLink{TokenHash: s.Hash.Sum(purpose + "\x00" + token), Purpose: purpose,
		TenantID: u.TenantID, UserID: u.ID, CreatedBy: createdBy, CreatedAt: now, ExpiresAt: now.Add(ttl)})
	return token, err
}

// lookup finds the live link of purpose for token, with its user and tenant.
func (s *Service) lookup(ctx context.Context, purpose, token string) (storage.EmailLink, storage.User, storage.Tenant, error) {
	var zl storage.EmailLink
	var zu storage.User
	var zt storage.Tenant
	if token == "" || len(token) > 128 {
		return zl, zu, zt, ErrLinkInvalid
	}
	l, err := s.Store.LinkByHash(ctx, purpose, s.Hash.Sum(purpose+"\x00"+token))
	if errors.Is(err, storage.ErrNotFound) {
		return zl, zu, zt, ErrLinkInvalid
	} else if err != nil {
		return zl, zu, zt, err
	}
	live := l.UsedAt == nil && l.RevokedAt == nil && s.Now().Before(l.ExpiresAt)
	if purpose == storage.LinkReset && (!live || selfService(l.CreatedBy)) {
		// A link the user asked for is refused while their self-service reset is held (reset.go); so
		// is a dead link then, since a new one would not come by "forgot password" either.
		held, err := s.resetHeld(ctx, s.Store, l.UserID)
		if err != nil {
			return zl, zu, zt, err
		}
		if held {
			return zl, zu, zt, fmt.Errorf("%w (%w): link %s of user %s, created by %q", ErrResetHeld, ErrLinkInvalid, l.ID, l.UserID, l.CreatedBy)
		}
	}
	if !live {
		return zl, zu, zt, fmt.Errorf("%w: used %v, revoked %v, expires %v", ErrLinkInvalid, l.UsedAt != nil, l.RevokedAt != nil, l.ExpiresAt)
	}
	u, err := s.Store.UserByID(ctx, l.UserID)
	if err != nil || u.TenantID != l.TenantID || u.Disabled {
		return zl, zu, zt, fmt.Errorf("%w: user gone, moved or disabled", ErrLinkInvalid)
	}
	t, err := s.Store.TenantByID(ctx, l.TenantID)
	if err != nil {
		return zl, zu, zt, err
	}
	return l, u, t, nil
}

func (s *Service) audit(ctx context.Context, tx *storage.Store, tenantID, actor, target, action, address string, detail map[string]any) error {
	return tx.AddAudit(ctx, storage.AuditEvent{TenantID: tenantID, ActorID: actor, TargetID: target, Action: action,
		Address: address, Detail: detail, CreatedAt: s.Now()})
}

func (s *Service) enqueue(ctx context.Context, tx *storage.Store, m mail.Message) error {
	om := m.Outbox()
	om.CreatedAt = s.Now()
	_, err := tx.EnqueueMail(ctx, om)
	return err
}

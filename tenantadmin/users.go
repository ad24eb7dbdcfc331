package tenantadmin

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"time"
	"unicode/utf8"

	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/storage"
)

// Password length bounds, in characters: NIST SP 800-63B's minimum of 8, and a maximum that keeps
// hashing cheap while allowing any passphrase.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 1024
	maxNameLen     = 200
)

// ValidRole reports whether r is a role a user may have.
func ValidRole(r string) bool { return r == RoleAdmin || r == RoleMember }

// NewUser is a user to create.
type NewUser struct {
	TenantID      string
	Email         string // a bare address
	Name          string
	Role          string // admin or member; "" is member
	Password      string
	EmailVerified bool // the operator vouches for the address (CLI, bootstrap)
}

// CreateUser hashes the password and creates the user with its audit event.
func (s *Service) CreateUser(ctx context.Context, a Actor, nu NewUser) (storage.User, error) {
	if nu.Role == "" {
		nu.Role = RoleMember
	}
	if addr, err := mail.ParseAddress(nu.Email); err != nil || addr.Address != nu.Email || len(nu.Email) > 320 {
		return storage.User{}, invalid("email: a plain address is required")
	}
	if !ValidRole(nu.Role) {
		return storage.User{}, invalid("role: admin or member")
	}
	if n := utf8.RuneCountInString(nu.Password); n < MinPasswordLen || n > MaxPasswordLen {
		return storage.User{}, invalid("password: %d to %d characters", MinPasswordLen, MaxPasswordLen)
	}
	if len(nu.Name) > maxNameLen {
		return storage.User{}, invalid("name: at most %d characters", maxNameLen)
	}
	if s.Passwords != nil { // the same rule as every password a user chooses (NIST 800-63B 5.1.1.2)
		t, err := s.Store.TenantByRef(ctx, nu.TenantID)
		if err != nil {
			return storage.User{}, err
		}
		if err := s.Passwords.Check(nu.Password, nu.Email, t.Name); err != nil {
			return storage.User{}, invalid("password: %s", err.Error())
		}
	}
	hash, err := s.Hasher.Hash(ctx, nu.Password)
	if err != nil {
		return storage.User{}, err
	}
	var u storage.User
	err = s.Store.InTx(ctx, func(tx Tx) error {
		var err error
		u, err = tx.CreateUser(ctx, storage.User{TenantID: nu.TenantID, Email: nu.Email, Name: nu.Name, Role: nu.Role,
			PasswordHash: hash, EmailVerified: nu.EmailVerified, CreatedAt: s.Now()})
		if err != nil {
			return err
		}
		return tx.AddAudit(ctx, s.event(a, u.TenantID, AuditUserCreated, u.ID, map[string]any{"email": u.Email, "role": u.Role}))
	})
	return u, err
}

// User returns the tenant's user with this id; a user of another tenant is not found.
func (s *Service) User(ctx context.Context, tenantID, userID string) (storage.User, error) {
	u, err := s.Store.UserByID(ctx, userID)
	if err != nil {
		return storage.User{}, err
	}
	if u.TenantID != tenantID {
		return storage.User{}, fmt.Errorf("user %s: %w", userID, storage.ErrNotFound)
	}
	return u, nil
}

// UserByEmail returns the tenant's user with this email.
func (s *Service) UserByEmail(ctx context.Context, tenantID, email string) (storage.User, error) {
	return s.Store.UserByEmail(ctx, tenantID, email)
}

// Member is a user with their second factor, for lists.
type Member struct {
	User          storage.User
	Authenticator *storage.Authenticator // nil without one
	Keys          int                    // passkeys and security keys
}

// MFA is the member's second-factor state: none, pending or active.
func (m Member) MFA() string {
	if m.Authenticator == nil {
		return mfa.StateNone
	}
	return mfa.State(*m.Authenticator, nil)
}

// Members returns a page of the tenant's users with their authenticators (one query for all).
func (s *Service) Members(ctx context.Context, tenantID string, offset, limit int) ([]Member, error) {
	users, err := s.Store.ListUsers(ctx, tenantID, offset, limit)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	auths, err := s.Store.AuthenticatorsByUsers(ctx, ids)
	if err != nil {
		return nil, err
	}
	keys, err := s.Store.CredentialsCountByUsers(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Member, len(users))
	for i, u := range users {
		out[i].User, out[i].Keys = u, keys[u.ID]
		if a, ok := auths[u.ID]; ok {
			out[i].Authenticator = &a
		}
	}
	return out, nil
}

// Member returns one user with their authenticator.
func (s *Service) Member(ctx context.Context, u storage.User) (Member, error) {
	a, err := s.Store.AuthenticatorByUser(ctx, u.ID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return Member{User: u}, nil
	case err != nil:
		return Member{User: u}, err
	}
	return Member{User: u, Authenticator: &a}, nil
}

// UserChange says what to change of a user; nil fields stay.
type UserChange struct {
	Role     *string
	Disabled *bool
	Name     *string
}

// UpdateUser changes the tenant's user. It refuses (ErrLastAdmin) to demote or disable the tenant's
// last active admin. Disabling ends the user's sessions and revokes their tokens. One user.updated
// event records the old and the new values.
func (s *Service) UpdateUser(ctx context.Context, a Actor, tenantID, userID string, ch UserChange) (before, after storage.User, err error) {
	if ch.Role == nil && ch.Disabled == nil && ch.Name == nil {
		return before, after, invalid("nothing to change")
	}
	if ch.Role != nil && !ValidRole(*ch.Role) {
		return before, after, invalid("role: admin or member")
	}
	if ch.Name != nil && len(*ch.Name) > maxNameLen {
		return before, after, invalid("name: at most %d characters", maxNameLen)
	}
	if _, err := s.User(ctx, tenantID, userID); err != nil {
		return before, after, err
	}
	err = s.Store.InTx(ctx, func(tx Tx) error {
		if err := tx.LockTenant(ctx, tenantID); err != nil { // see keepAdmin
			return err
		}
		var err error
		after, err = tx.UpdateUser(ctx, userID, func(u *storage.User) error {
			before = *u
			if ch.Role != nil {
				u.Role = *ch.Role
			}
			if ch.Disabled != nil {
				u.Disabled = *ch.Disabled
			}
			if ch.Name != nil {
				u.Name = *ch.Name
			}
			return nil
		})
		if err != nil {
			return err
		}
		if activeAdmin(before) && !activeAdmin(after) {
			if err := keepsAdmin(ctx, tx, tenantID); err != nil {
				return err
			}
		}
		if after.Disabled && !before.Disabled {
			if err := tx.RevokeUserTokens(ctx, userID, s.Now()); err != nil {
				return err
			}
		}
		return tx.AddAudit(ctx, s.event(a, tenantID, AuditUserUpdated, userID, map[string]any{
			"old": map[string]any{"role": before.Role, "disabled": before.Disabled, "name": before.Name},
			"new": map[string]any{"role": after.Role, "disabled": after.Disabled, "name": after.Name}}))
	})
	return before, after, err
}

// activeAdmin says whether u counts as one of the tenant's active admins (storage's CountActiveAdmins):
// an admin who is not disabled, invited ones who have not chosen a password yet included.
func activeAdmin(u storage.User) bool { return u.Role == RoleAdmin && !u.Disabled }

// The guard "a tenant keeps at least one active admin" counts the admins after a change, in the
// change's transaction. Under PostgreSQL's READ COMMITTED that count alone is not enough: two admins
// demoting (disabling, deleting) each other at once would each count the other as still active, and
// both commit. So every change that can take an active admin from a tenant (UpdateUser, DeleteUser,
// RevokeInvitation) first locks the tenant's row (storage's LockTenant). Such changes of one tenant
// then run one after another; the second one's count, a statement after its lock, sees the first
// one's commit and refuses. (SQLite's one writer already runs them one after another.)

// keepsAdmin refuses (ErrLastAdmin) when the tenant, as this transaction leaves it, has no active admin.
// The transaction must hold the tenant's lock (LockTenant) from before it changed or read the users.
func keepsAdmin(ctx context.Context, tx Tx, tenantID string) error {
	n, err := tx.CountActiveAdmins(ctx, tenantID)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrLastAdmin
	}
	return nil
}

// lockedUser locks the tenant (keepsAdmin) and reads the tenant's user afresh under that lock: the
// record a removal decides on, whatever changed since the caller last read it.
func lockedUser(ctx context.Context, tx Tx, tenantID, userID string) (storage.User, error) {
	if err := tx.LockTenant(ctx, tenantID); err != nil {
		return storage.User{}, err
	}
	u, err := tx.UserByID(ctx, userID)
	if err != nil {
		return storage.User{}, err
	}
	if u.TenantID != tenantID {
		return storage.User{}, fmt.Errorf("user %s: %w", userID, storage.ErrNotFound)
	}
	return u, nil
}

// Reset is the outcome of an MFA reset: the one-time enrolment code to pass to the user (shown once).
type Reset struct {
	PreviousMFA   string // none, pending or active
	EnrolmentCode string
	ExpiresAt     time.Time
}

// ResetMFA removes the user's authenticator and recovery codes, ends their sessions and revokes their
// tokens, and leaves a one-time enrolment code that their next enrolment needs (no trust on first use
// after a reset). It also revokes the user's open password-reset links: while the code is outstanding
// the user's self-service reset is held (lifecycle.ErrResetHeld), since the reset's mail carries the
// code and the mailbox alone must not be enough to take the account. The reset, the revocations and
// the audit event are one transaction, which locks the user's row first (as a reset request does), so
// a reset request and an MFA reset of one user run one after the other.
func (s *Service) ResetMFA(ctx context.Context, a Actor, u storage.User) (Reset, error) {
	m, err := s.Member(ctx, u)
	if err != nil {
		return Reset{}, err
	}
	code, rec, err := s.Enrolment.NewEnrolmentCode(u, a.ID)
	if err != nil {
		return Reset{}, err
	}
	t, err := s.Store.TenantByRef(ctx, u.TenantID)
	if err != nil {
		return Reset{}, err
	}
	var admins []storage.User
	if s.Issuer != "" && u.Role == RoleAdmin {
		if admins, err = s.activeAdmins(ctx, u.TenantID); err != nil {
			return Reset{}, err
		}
	}
	err = s.Store.InTx(ctx, func(tx Tx) error {
		if _, err := tx.LockUser(ctx, u.ID); err != nil {
			return err
		}
		ev := s.event(a, u.TenantID, AuditMFAReset, u.ID, map[string]any{"email": u.Email,
			"enrolment_code_expires_at": rec.ExpiresAt.UTC().Format(time.RFC3339)})
		if err := tx.ResetMFA(ctx, u.ID, &rec, ev); err != nil {
			return err
		}
		if err := tx.RevokeUserTokens(ctx, u.ID, s.Now()); err != nil {
			return err
		}
		if err := tx.RevokeLinks(ctx, u.ID, storage.LinkReset, s.Now()); err != nil {
			return err
		}
		return s.notifyReset(ctx, tx, a, t, u, code, rec.ExpiresAt, admins) // notify.go
	})
	if err != nil {
		return Reset{}, err
	}
	return Reset{PreviousMFA: m.MFA(), EnrolmentCode: code, ExpiresAt: rec.ExpiresAt}, nil
}

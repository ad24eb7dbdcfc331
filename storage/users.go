package storage

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// NormalizeEmail is how emails are compared and stored: trimmed and lower case.
func NormalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

func userToRow(u User) userRow {
	return userRow{ID: u.ID, TenantID: u.TenantID, Email: NormalizeEmail(u.Email), Name: u.Name, PasswordHash: u.PasswordHash,
		Role: u.Role, Disabled: u.Disabled, EmailVerified: u.EmailVerified, CreatedAt: utc(u.CreatedAt), UpdatedAt: utc(u.UpdatedAt)}
}

// CreateUser stores a new user. The email is unique within the tenant (ErrAlreadyExists).
func (s *Store) CreateUser(ctx context.Context, u User) (User, error) {
	if u.ID == "" {
		u.ID = NewID()
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = time.Now()
	}
	u.UpdatedAt = u.CreatedAt
	if u.Role == "" {
		u.Role = RoleMember
	}
	r := userToRow(u)
	if err := s.ctx(ctx).Create(&r).Error; err != nil {
		return User{}, translate("create user", err)
	}
	return userFromRow(r), nil
}

// ListUsers returns a page of the tenant's users ordered by email.
func (s *Store) ListUsers(ctx context.Context, tenantID string, offset, limit int) ([]User, error) {
	var rows []userRow
	if err := s.ctx(ctx).Where("tenant_id = ?", tenantID).Order("email").Offset(offset).Limit(limit).Find(&rows).Error; err != nil {
		return nil, translate("list users", err)
	}
	out := make([]User, len(rows))
	for i, r := range rows {
		out[i] = userFromRow(r)
	}
	return out, nil
}

// UpdateUser changes a user inside a transaction: update edits a copy of the current record.
// The id, tenant and creation time cannot change. A disabled user also loses its sessions and sign-ins
// in flight (endSessionsAndSignIns).
// The row is read locked (FOR NO KEY UPDATE on PostgreSQL), so concurrent updates of one user run one
// after the other and each edits what the previous one wrote: the whole record is written back, and an
// unlocked read under READ COMMITTED could put back a role or a disabled flag that another update
// had just changed (a rename undoing a concurrent disable). The lock also makes a sign-in step's record
// that checks the user's password hash or disabled flag (Proof) wait for this transaction; it leaves
// foreign-key checks (a session being stored for the user) free, which must not wait on it.
func (s *Store) UpdateUser(ctx context.Context, id string, update func(*User) error) (User, error) {
	var out User
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		var r userRow
		if err := tx.Clauses(clause.Locking{Strength: "NO KEY UPDATE"}).Where("id = ?", id).Take(&r).Error; err != nil {
			return translate("update user", err)
		}
		u := userFromRow(r)
		if err := update(&u); err != nil {
			return err
		}
		u.ID, u.TenantID, u.CreatedAt, u.UpdatedAt = r.ID, r.TenantID, r.CreatedAt, time.Now()
		nr := userToRow(u)
		if err := tx.Save(&nr).Error; err != nil {
			return translate("update user", err)
		}
		if u.Disabled && !r.Disabled {
			if err := endSessionsAndSignIns(tx, id, nil, "user_id = ?", id); err != nil {
				return translate("update user", err)
			}
		}
		out = userFromRow(nr)
		return nil
	})
	return out, err
}

// LockUser locks the user's row until the transaction of a Store bound to one (InTx) ends, and returns
// the user as read under the lock: SELECT ... FOR NO KEY UPDATE on PostgreSQL (SQLite's one writer runs
// transactions one at a time anyway). Changes of one user that must each see what the others wrote,
// such as a capped mail (count, then write), take it first: they then run one after another, and every
// statement after the lock sees the previous one's commit (READ COMMITTED gives each statement a new
// snapshot). A missing user is ErrNotFound. As UpdateUser's, the lock leaves the foreign-key checks of
// the user's new rows free: a change that ends the user's sign-ins under it (an MFA reset) must not
// deadlock with a sign-in storing its session (endSessionsAndSignIns).
func (s *Store) LockUser(ctx context.Context, id string) (User, error) {
	var r userRow
	if err := s.ctx(ctx).Clauses(clause.Locking{Strength: "NO KEY UPDATE"}).Where("id = ?", id).Take(&r).Error; err != nil {
		return User{}, translate("lock user", err)
	}
	return userFromRow(r), nil
}

// CountActiveAdmins counts the tenant's admins that are not disabled.
func (s *Store) CountActiveAdmins(ctx context.Context, tenantID string) (int64, error) {
	var n int64
	err := s.ctx(ctx).Model(&userRow{}).Where("tenant_id = ? AND role = ? AND disabled = ?", tenantID, RoleAdmin, false).Count(&n).Error
	return n, translate("count active admins", err)
}

// DeleteUser removes the user and everything that hangs on them (sessions, authenticator, recovery
// and enrolment codes, emailed links: by foreign key), ends their sign-ins in flight and revokes their
// tokens, in one transaction. Audit events keep the user's id only.
func (s *Store) DeleteUser(ctx context.Context, id string, now time.Time) error {
	return s.inTx(ctx, func(tx *gorm.DB) error {
		// The row is locked first, as UpdateUser does, so that a sign-in step naming the user either
		// committed before (and is ended below) or waits and finds the user gone (endSessionsAndSignIns).
		if err := tx.Clauses(clause.Locking{Strength: "NO KEY UPDATE"}).Select("id").Where("id = ?", id).Take(&userRow{}).Error; err != nil {
			return translate("delete user", err)
		}
		if err := endSessionsAndSignIns(tx, id, nil, "user_id = ?", id); err != nil {
			return translate("delete user", err)
		}
		// As every revocation of a user's tokens: also those a code exchange or a rotation in flight is
		// about to store.
		if err := revokeSubjectTokens(tx, id, "", nil, now); err != nil {
			return translate("delete user", err)
		}
		if err := tx.Model(&outboxRow{}).Where("user_id = ? AND sent_at IS NULL", id).Delete(&outboxRow{}).Error; err != nil {
			return translate("delete user", err)
		}
		res := tx.Where("id = ?", id).Delete(&userRow{})
		if res.Error != nil {
			return translate("delete user", res.Error)
		}
		if res.RowsAffected != 1 {
			return translate("delete user", ErrNotFound)
		}
		return nil
	})
}

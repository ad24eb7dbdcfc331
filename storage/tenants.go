package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// CreateTenant stores a new tenant; ID and CreatedAt are filled in when empty.
func (s *Store) CreateTenant(ctx context.Context, t Tenant) (Tenant, error) {
	if t.ID == "" {
		t.ID = NewID()
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now()
	}
	t.Slug = strings.ToLower(t.Slug)
	r := tenantRow{ID: t.ID, Slug: t.Slug, Name: t.Name, MFAEnabled: t.MFAEnabled, MFAUpdatedAt: optTime(t.MFAUpdatedAt),
		MFAUpdatedBy: t.MFAUpdatedBy, MFAMethods: methodsToRow(t.MFAMethods), CreatedAt: utc(t.CreatedAt)}
	if err := s.ctx(ctx).Create(&r).Error; err != nil {
		return Tenant{}, translate("create tenant", err)
	}
	return tenantFromRow(r), nil
}

// TenantByRef returns the tenant whose id or slug is ref.
func (s *Store) TenantByRef(ctx context.Context, ref string) (Tenant, error) {
	var r tenantRow
	if err := s.ctx(ctx).Where("id = ? OR slug = ?", ref, strings.ToLower(ref)).Take(&r).Error; err != nil {
		return Tenant{}, translate("tenant by ref", err)
	}
	return tenantFromRow(r), nil
}

// ListTenants returns every tenant, oldest first.
func (s *Store) ListTenants(ctx context.Context) ([]Tenant, error) {
	var rows []tenantRow
	if err := s.ctx(ctx).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, translate("list tenants", err)
	}
	out := make([]Tenant, len(rows))
	for i, r := range rows {
		out[i] = tenantFromRow(r)
	}
	return out, nil
}

// CountTenants reports how many tenants exist (the dev bootstrap runs on an empty database only).
func (s *Store) CountTenants(ctx context.Context) (int64, error) {
	var n int64
	err := s.ctx(ctx).Model(&tenantRow{}).Count(&n).Error
	return n, translate("count tenants", err)
}

// LockTenant locks the tenant's row until the transaction of a Store bound to one (InTx) ends:
// SELECT ... FOR NO KEY UPDATE on PostgreSQL (SQLite's one writer runs transactions one at a time anyway).
// Changes that must each see what the others did to the tenant, such as taking an admin from it, take
// it first: they then run one after another, and every statement after the lock sees the previous
// one's commit (READ COMMITTED gives each statement a new snapshot). A missing tenant is ErrNotFound.
// The lock leaves the foreign-key checks of the tenant's new rows free (FOR KEY SHARE): a sign-in
// storing its session while holding its request's lock must not wait on it, or a change that ends the
// sign-in under this lock would deadlock with it (endSessionsAndSignIns).
func (s *Store) LockTenant(ctx context.Context, tenantID string) error {
	var r tenantRow
	err := s.ctx(ctx).Clauses(clause.Locking{Strength: "NO KEY UPDATE"}).Select("id").Where("id = ?", tenantID).Take(&r).Error
	return translate("lock tenant", err)
}

// SetMFAPolicy turns the tenant's MFA policy on or off and writes the audit event in the same transaction.
// It returns the tenant before and after. Setting the value it already has still records who asked.
func (s *Store) SetMFAPolicy(ctx context.Context, tenantID string, enabled bool, ev AuditEvent) (before, after Tenant, err error) {
	return s.SetMFAPolicyAndMethods(ctx, tenantID, enabled, nil, ev)
}

// SetMFAPolicyAndMethods is SetMFAPolicy that also sets the second factors the policy allows (nil:
// unchanged): one change, one transaction, one audit event (with old_methods and new_methods when
// methods is given).
func (s *Store) SetMFAPolicyAndMethods(ctx context.Context, tenantID string, enabled bool, methods []string, ev AuditEvent) (before, after Tenant, err error) {
	err = s.inTx(ctx, func(tx *gorm.DB) error {
		var r tenantRow
		// The row lock (PostgreSQL; SQLite has one writer) serialises concurrent changes, so each
		// event's "old" is the previous event's "new".
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = ?", tenantID).Take(&r).Error; err != nil {
			return translate("set mfa policy", err)
		}
		before = tenantFromRow(r)
		now := time.Now().UTC()
		if !ev.CreatedAt.IsZero() {
			now = ev.CreatedAt.UTC()
		}
		// Later changes get later times (at the database's microsecond precision), so the newest
		// audit event is the one that set the current value.
		now = now.Truncate(time.Microsecond)
		if !now.After(before.MFAUpdatedAt) {
			now = before.MFAUpdatedAt.UTC().Truncate(time.Microsecond).Add(time.Microsecond)
		}
		change := map[string]any{"mfa_enabled": enabled, "mfa_updated_at": now, "mfa_updated_by": ev.ActorID}
		if methods != nil {
			r.MFAMethods = methodsToRow(methods)
			change["mfa_methods"] = r.MFAMethods
		}
		if err := tx.Model(&tenantRow{}).Where("id = ?", tenantID).Updates(change).Error; err != nil {
			return translate("set mfa policy", err)
		}
		r.MFAEnabled, r.MFAUpdatedAt, r.MFAUpdatedBy = enabled, &now, ev.ActorID
		after = tenantFromRow(r)
		ev.TenantID = tenantID
		ev.CreatedAt = now
		if ev.Detail == nil {
			ev.Detail = map[string]any{}
		}
		ev.Detail["old"] = before.MFAEnabled
		ev.Detail["new"] = enabled
		if methods != nil {
			ev.Detail["old_methods"] = before.MFAMethods
			ev.Detail["new_methods"] = after.MFAMethods
		}
		return addAudit(tx, ev)
	})
	return before, after, err
}

func addAudit(db *gorm.DB, ev AuditEvent) error {
	r, err := auditRow(ev)
	if err != nil {
		return err
	}
	return translate("add audit event", db.Create(&r).Error)
}

// auditRow is the row of ev, with its id and time when it has none.
func auditRow(ev AuditEvent) (auditEventRow, error) {
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = time.Now()
	}
	if ev.ID == "" {
		// Time-ordered, so events of the same instant still list in the order they were written.
		ev.ID = fmt.Sprintf("%013x", ev.CreatedAt.UnixMicro()) + NewID()[:19]
	}
	detail := []byte("{}")
	if ev.Detail != nil {
		var err error
		if detail, err = json.Marshal(ev.Detail); err != nil {
			return auditEventRow{}, fmt.Errorf("add audit event: %w", err)
		}
	}
	return auditEventRow{ID: ev.ID, TenantID: ev.TenantID, ActorID: ev.ActorID, Action: ev.Action, TargetID: ev.TargetID,
		Address: ev.Address, Detail: string(detail), CreatedAt: utc(ev.CreatedAt)}, nil
}

// ListAudit returns a tenant's audit events, newest first, optionally only those of one action.
func (s *Store) ListAudit(ctx context.Context, tenantID string, offset, limit int) ([]AuditEvent, error) {
	var rows []auditEventRow
	err := s.ctx(ctx).Where("tenant_id = ?", tenantID).Order("created_at DESC, id DESC").Offset(offset).Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, translate("list audit events", err)
	}
	out := make([]AuditEvent, len(rows))
	for i, r := range rows {
		out[i] = auditFromRow(r)
	}
	return out, nil
}

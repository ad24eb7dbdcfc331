package storage

import (
	"context"
	"slices"
	"strings"

	"gorm.io/gorm"
)

// DefaultMFAMethods are the second factors a tenant allows unless it chose otherwise.
var defaultMFAMethods = []string{"totp", "webauthn"}

// DefaultMFAMethods returns the second factors a tenant allows unless it chose otherwise.
func DefaultMFAMethods() []string { return slices.Clone(defaultMFAMethods) }

func methodsToRow(m []string) string {
	if len(m) == 0 {
		return strings.Join(defaultMFAMethods, ",")
	}
	return strings.Join(m, ",")
}

func methodsFromRow(s string) []string {
	if s == "" {
		return DefaultMFAMethods()
	}
	return strings.Split(s, ",")
}

// SetMFAMethods sets the second factors the tenant's policy allows, with its audit event (old and new
// values), in one transaction, and returns the tenant before and after.
func (s *Store) SetMFAMethods(ctx context.Context, tenantID string, methods []string, ev AuditEvent) (before, after Tenant, err error) {
	err = s.inTx(ctx, func(tx *gorm.DB) error {
		var r tenantRow
		if err := tx.Where("id = ?", tenantID).Take(&r).Error; err != nil {
			return translate("set mfa methods", err)
		}
		before = tenantFromRow(r)
		r.MFAMethods = methodsToRow(methods)
		if err := tx.Model(&tenantRow{}).Where("id = ?", tenantID).Update("mfa_methods", r.MFAMethods).Error; err != nil {
			return translate("set mfa methods", err)
		}
		after = tenantFromRow(r)
		ev.TenantID = tenantID
		if ev.Detail == nil {
			ev.Detail = map[string]any{}
		}
		ev.Detail["old_methods"] = before.MFAMethods
		ev.Detail["new_methods"] = after.MFAMethods
		return addAudit(tx, ev)
	})
	return before, after, err
}

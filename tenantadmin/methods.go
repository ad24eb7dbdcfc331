package tenantadmin

import (
	"context"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/storage"
)

// ParseMethods checks a list of second-factor methods (totp, webauthn; ["webauthn"] alone is
// phishing-resistant only) and returns it deduplicated in a fixed order.
func ParseMethods(in []string) ([]string, error) {
	var out []string
	for _, m := range mfa.AllMethods() {
		if slices.ContainsFunc(in, func(v string) bool { return strings.EqualFold(strings.TrimSpace(v), m) }) {
			out = append(out, m)
		}
	}
	for _, v := range in {
		if !slices.Contains(mfa.AllMethods(), strings.ToLower(strings.TrimSpace(v))) {
			return nil, invalid("unknown second-factor method %q: use totp and/or webauthn", v)
		}
	}
	if len(out) == 0 {
		return nil, invalid("at least one second-factor method (totp, webauthn) must be allowed")
	}
	return out, nil
}

// SetMFAMethods sets the second factors the tenant's policy allows, with its audit event
// (mfa.policy_changed, detail old_methods and new_methods).
func (s *Service) SetMFAMethods(ctx context.Context, a Actor, tenantID string, methods []string) (before, after storage.Tenant, err error) {
	m, err := ParseMethods(methods)
	if err != nil {
		return storage.Tenant{}, storage.Tenant{}, err
	}
	return s.Store.SetMFAMethods(ctx, tenantID, m, s.event(a, tenantID, AuditPolicyChanged, tenantID, nil))
}

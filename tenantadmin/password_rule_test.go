package tenantadmin_test

import (
	"errors"
	"testing"
	"time"

	"github.com/portcullis/portcullis/pwpolicy"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
	"github.com/portcullis/portcullis/tenantadmin"
)

// A password an admin or the operator sets at creation follows the same rule as one a user chooses:
// common passwords and ones containing the email's local part or the tenant name are refused.
func TestCreateUserPasswordRule(t *testing.T) {
	st := storagetest.NewSQLite(t)
	ctx := t.Context()
	svc := newService(st, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	svc.Passwords = pwpolicy.New()
	ten, err := st.CreateTenant(ctx, storage.Tenant{Slug: "acme", Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"password123", "ann.lovelace-2026", "welcome to acme!", "short"} {
		_, err := svc.CreateUser(ctx, cliActor(), tenantadmin.NewUser{TenantID: ten.ID, Email: "ann.lovelace@acme.test", Password: pw})
		if !errors.Is(err, tenantadmin.ErrInvalid) {
			t.Errorf("CreateUser with password %q: %v, want ErrInvalid", pw, err)
		}
	}
	if _, err := svc.CreateUser(ctx, cliActor(), tenantadmin.NewUser{TenantID: ten.ID, Email: "ann.lovelace@acme.test",
		Password: "orbit kettle violet hinge"}); err != nil {
		t.Fatalf("CreateUser with a good password: %v", err)
	}
}

package tenantadmin_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/clientreg"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
	"github.com/portcullis/portcullis/tenantadmin"
)

// plainHasher stands in for argon2id (slow on purpose) in these tests; the stored value is opaque.
type plainHasher struct{}

func (plainHasher) Hash(_ context.Context, pw string) (string, error) { return "test$" + pw, nil }

// fixedCodes makes a known enrolment code.
type fixedCodes struct{ now time.Time }

func (f fixedCodes) NewEnrolmentCode(u storage.User, by string) (string, storage.EnrolmentCode, error) {
	return "CODE-1", storage.EnrolmentCode{UserID: u.ID, TenantID: u.TenantID, CodeHash: "h", CreatedBy: by, CreatedAt: f.now,
		ExpiresAt: f.now.Add(time.Hour)}, nil
}

func cliActor() tenantadmin.Actor { return tenantadmin.Actor{ID: "cli", Address: "cli"} }

func newService(st *storage.Store, now time.Time) *tenantadmin.Service {
	return &tenantadmin.Service{Store: tenantadmin.FromStorage(st), Enrolment: fixedCodes{now}, Hasher: plainHasher{},
		Now: func() time.Time { return now }}
}

func ptr[T any](v T) *T { return &v }

// TestUpdateUserGuards: the last active admin can be neither demoted nor disabled; with another
// active admin both work; members are never guarded.
func TestUpdateUserGuards(t *testing.T) {
	tests := []struct {
		name       string
		otherAdmin string // "", "active" or "disabled": the second admin's state
		target     string // "admin" or "member"
		change     tenantadmin.UserChange
		wantErr    error
	}{
		{"demote last admin", "", "admin", tenantadmin.UserChange{Role: ptr(tenantadmin.RoleMember)}, tenantadmin.ErrLastAdmin},
		{"disable last admin", "", "admin", tenantadmin.UserChange{Disabled: ptr(true)}, tenantadmin.ErrLastAdmin},
		{"disable last admin, other admin disabled", "disabled", "admin", tenantadmin.UserChange{Disabled: ptr(true)}, tenantadmin.ErrLastAdmin},
		{"demote admin, other admin active", "active", "admin", tenantadmin.UserChange{Role: ptr(tenantadmin.RoleMember)}, nil},
		{"disable admin, other admin active", "active", "admin", tenantadmin.UserChange{Disabled: ptr(true)}, nil},
		{"rename last admin", "", "admin", tenantadmin.UserChange{Name: ptr("Ada L.")}, nil},
		{"disable member", "", "member", tenantadmin.UserChange{Disabled: ptr(true)}, nil},
		{"promote member", "", "member", tenantadmin.UserChange{Role: ptr(tenantadmin.RoleAdmin)}, nil},
		{"bad role", "", "member", tenantadmin.UserChange{Role: ptr("root")}, tenantadmin.ErrInvalid},
		{"nothing", "", "member", tenantadmin.UserChange{}, tenantadmin.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			st := storagetest.NewSQLite(t)
			svc := newService(st, now)
			ten, err := svc.CreateTenant(ctx, cliActor(), "acme", "Acme")
			if err != nil {
				t.Fatal(err)
			}
			mk := func(email, role string) storage.User {
				u, err := svc.CreateUser(ctx, cliActor(), tenantadmin.NewUser{TenantID: ten.ID, Email: email, Role: role, Password: "long enough"})
				if err != nil {
					t.Fatal(err)
				}
				return u
			}
			admin, member := mk("ada@acme.test", tenantadmin.RoleAdmin), mk("max@acme.test", tenantadmin.RoleMember)
			if tc.otherAdmin != "" {
				other := mk("grace@acme.test", tenantadmin.RoleAdmin)
				if tc.otherAdmin == "disabled" {
					if _, err := st.UpdateUser(ctx, other.ID, func(u *storage.User) error { u.Disabled = true; return nil }); err != nil {
						t.Fatal(err)
					}
				}
			}
			target := member
			if tc.target == "admin" {
				target = admin
			}
			at := storage.AccessToken{ID: storage.NewID(), GrantID: "g", TenantID: ten.ID, ClientID: "c", Subject: target.ID,
				AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := st.CreateTokens(ctx, at, nil); err != nil {
				t.Fatal(err)
			}
			eventsBefore := countEvents(t, st, ten.ID, tenantadmin.AuditUserUpdated)

			before, after, err := svc.UpdateUser(ctx, cliActor(), ten.ID, target.ID, tc.change)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("UpdateUser: err = %v, want %v", err, tc.wantErr)
			}
			stored, _ := st.UserByID(ctx, target.ID)
			tok, _ := st.AccessTokenByID(ctx, at.ID)
			events := countEvents(t, st, ten.ID, tenantadmin.AuditUserUpdated) - eventsBefore
			if tc.wantErr != nil {
				if stored.Role != target.Role || stored.Disabled != target.Disabled || tok.RevokedAt != nil || events != 0 {
					t.Errorf("a refused change was written: user %+v, token revoked %v, %d events", stored, tok.RevokedAt, events)
				}
				return
			}
			if stored != after || before.ID != target.ID || events != 1 {
				t.Errorf("stored %+v, returned %+v, %d events", stored, after, events)
			}
			if revoked := tok.RevokedAt != nil; revoked != after.Disabled {
				t.Errorf("token revoked = %v, user disabled = %v", revoked, after.Disabled)
			}
		})
	}
}

func countEvents(t *testing.T, st *storage.Store, tenantID, action string) int {
	t.Helper()
	evs, err := st.ListAudit(t.Context(), tenantID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Action == action {
			n++
		}
	}
	return n
}

// TestAuditNamesAndClock: every operation writes its one audit event, named as the package documents,
// by the actor, at the injected time, and a user other than the tenant's is not found.
func TestAuditNamesAndClock(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		ctx := t.Context()
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		svc := newService(st, now)
		admin := tenantadmin.Actor{ID: "u-admin", Email: "ada@acme.test", Address: "192.0.2.1"}
		ten, err := svc.CreateTenant(ctx, admin, "acme", "Acme")
		if err != nil {
			t.Fatal(err)
		}
		other, err := svc.CreateTenant(ctx, admin, "other", "Other")
		if err != nil {
			t.Fatal(err)
		}
		u, err := svc.CreateUser(ctx, admin, tenantadmin.NewUser{TenantID: ten.ID, Email: "max@acme.test", Password: "long enough"})
		if err != nil {
			t.Fatal(err)
		}
		if u.Role != tenantadmin.RoleMember || u.PasswordHash != "test$long enough" {
			t.Errorf("created %+v", u)
		}
		if _, err := svc.User(ctx, other.ID, u.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("user of another tenant: err = %v", err)
		}
		if _, _, err := svc.UpdateUser(ctx, admin, other.ID, u.ID, tenantadmin.UserChange{Disabled: ptr(true)}); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("update a user of another tenant: err = %v", err)
		}
		if _, _, err := svc.UpdateUser(ctx, admin, ten.ID, u.ID, tenantadmin.UserChange{Name: ptr("Max")}); err != nil {
			t.Fatal(err)
		}
		r, err := svc.ResetMFA(ctx, admin, u)
		if err != nil || r.EnrolmentCode != "CODE-1" || r.PreviousMFA != "none" || !r.ExpiresAt.Equal(now.Add(time.Hour)) {
			t.Fatalf("ResetMFA = %+v, %v", r, err)
		}
		if _, _, err := svc.SetMFAPolicy(ctx, admin, ten.ID, true, nil); err != nil {
			t.Fatal(err)
		}
		cl, sec, err := svc.CreateClient(ctx, admin, storage.Client{TenantID: ten.ID, Name: "CRM", RedirectURIs: []string{"https://crm.test/cb"}})
		if err != nil || sec == "" || cl.SecretHash == "" || !cl.HasGrant(clientreg.GrantRefreshToken) {
			t.Fatalf("CreateClient = %+v, %q, %v", cl, sec, err)
		}
		if _, _, err := svc.CreateClient(ctx, admin, storage.Client{TenantID: ten.ID, Name: "Bad", RedirectURIs: []string{"http://x.test/cb"}}); !errors.Is(err, tenantadmin.ErrInvalid) {
			t.Errorf("invalid client: err = %v", err)
		}
		if err := svc.DeleteClient(ctx, admin, ten.ID, cl.ID); err != nil {
			t.Fatal(err)
		}
		evs, err := st.ListAudit(ctx, ten.ID, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{tenantadmin.AuditTenantCreated: ten.ID, tenantadmin.AuditUserCreated: u.ID,
			tenantadmin.AuditUserUpdated: u.ID, tenantadmin.AuditMFAReset: u.ID, tenantadmin.AuditPolicyChanged: ten.ID,
			tenantadmin.AuditClientCreated: cl.ID, tenantadmin.AuditClientDeleted: cl.ID}
		if len(evs) != len(want) {
			t.Fatalf("%d events, want %d: %+v", len(evs), len(want), evs)
		}
		for _, e := range evs {
			if target, ok := want[e.Action]; !ok || e.TargetID != target || e.ActorID != admin.ID || e.Address != admin.Address ||
				e.Detail["actor_email"] != admin.Email || !e.CreatedAt.Equal(now) {
				t.Errorf("event %+v", e)
			}
		}
	})
}

// TestLastAdminRace: two admins who demote, disable or delete each other at the same moment leave the
// tenant with one active admin; the second change is refused (ErrLastAdmin), also on PostgreSQL under
// READ COMMITTED, where both counts would otherwise see the other admin still active.
func TestLastAdminRace(t *testing.T) {
	member, disabled := tenantadmin.RoleMember, true
	type op func(svc *tenantadmin.Service, ctx context.Context, by, target storage.User) error
	update := func(ch tenantadmin.UserChange) op {
		return func(svc *tenantadmin.Service, ctx context.Context, by, target storage.User) error {
			_, _, err := svc.UpdateUser(ctx, tenantadmin.Actor{ID: by.ID}, target.TenantID, target.ID, ch)
			return err
		}
	}
	del := func(svc *tenantadmin.Service, ctx context.Context, by, target storage.User) error {
		return svc.DeleteUser(ctx, tenantadmin.Actor{ID: by.ID}, target.TenantID, target.ID)
	}
	tests := []struct {
		name   string
		first  op
		second op
	}{
		{"demote each other", update(tenantadmin.UserChange{Role: &member}), update(tenantadmin.UserChange{Role: &member})},
		{"disable each other", update(tenantadmin.UserChange{Disabled: &disabled}), update(tenantadmin.UserChange{Disabled: &disabled})},
		{"delete each other", del, del},
		{"demote and delete", update(tenantadmin.UserChange{Role: &member}), del},
	}
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		svc := newService(st, time.Now().UTC())
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				const rounds = 30
				lost := 0
				for round := range rounds {
					ctx := context.Background()
					ten, err := svc.CreateTenant(ctx, cliActor(), storage.NewID()[:12], "Skew")
					if err != nil {
						t.Fatal(err)
					}
					var admins [2]storage.User
					for i := range admins {
						admins[i], err = svc.CreateUser(ctx, cliActor(), tenantadmin.NewUser{TenantID: ten.ID,
							Email: fmt.Sprintf("a%d@skew.test", i), Role: tenantadmin.RoleAdmin, Password: "long enough"})
						if err != nil {
							t.Fatal(err)
						}
					}
					var wg sync.WaitGroup
					start := make(chan struct{})
					errs := make([]error, 2)
					for i, f := range []op{tc.first, tc.second} {
						wg.Go(func() {
							<-start
							errs[i] = f(svc, ctx, admins[i], admins[1-i])
						})
					}
					close(start)
					wg.Wait()
					refused := 0
					for i, err := range errs {
						switch {
						case errors.Is(err, tenantadmin.ErrLastAdmin):
							refused++
						case err != nil:
							t.Errorf("round %d: change %d: %v", round, i, err)
						}
					}
					n, err := st.CountActiveAdmins(ctx, ten.ID)
					if err != nil {
						t.Fatal(err)
					}
					if n == 0 {
						lost++
					} else if n != 1 || refused != 1 {
						t.Errorf("round %d: %d active admins, %d changes refused; want 1 and 1", round, n, refused)
					}
				}
				if lost > 0 {
					t.Errorf("tenant left without an active admin in %d of %d rounds", lost, rounds)
				}
			})
		}
	})
}

package app_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/lifecycle"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
	"github.com/portcullis/portcullis/tenantadmin"
)

// signedUpAdmin stores an admin who has chosen a password (not a real hash: these tests sign nobody in,
// and hashing is slow on purpose).
func signedUpAdmin(t *testing.T, st *storage.Store, tenantID, email string) storage.User {
	t.Helper()
	u, err := st.CreateUser(context.Background(), storage.User{TenantID: tenantID, Email: email, PasswordHash: "not-a-hash",
		Role: storage.RoleAdmin, EmailVerified: true})
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	return u
}

// Two admins who demote each other at the same moment, through the tenant-admin service that the
// admin API, the pages and the CLI share, leave the tenant with one active admin (PostgreSQL runs
// them under READ COMMITTED, where each count would otherwise see the other admin still active).
func TestLastAdminConcurrentDemotions(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		env := apptest.New(t, st)
		svc := env.App.Admin
		const rounds = 30
		lost := 0
		member := storage.RoleMember
		for round := range rounds {
			ten := env.Tenant("Skew")
			a1, a2 := signedUpAdmin(t, st, ten.ID, "a1@skew.test"), signedUpAdmin(t, st, ten.ID, "a2@skew.test")
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make([]error, 2)
			for i, pair := range [][2]storage.User{{a1, a2}, {a2, a1}} {
				wg.Go(func() {
					<-start
					_, _, errs[i] = svc.UpdateUser(context.Background(), tenantadmin.Actor{ID: pair[0].ID}, ten.ID, pair[1].ID,
						tenantadmin.UserChange{Role: &member})
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil && !errors.Is(err, tenantadmin.ErrLastAdmin) {
					t.Errorf("round %d: demotion %d: %v", round, i, err)
				}
			}
			if n, err := st.CountActiveAdmins(context.Background(), ten.ID); err != nil {
				t.Fatal(err)
			} else if n == 0 {
				lost++
			}
		}
		if lost > 0 {
			t.Errorf("the tenant was left without an active admin in %d of %d rounds", lost, rounds)
		}
	})
}

// An invited admin who has not accepted yet is one of the tenant's active admins (the CLI's first
// admin of a tenant may be one): revoking the invitation is refused like deleting them when they are
// the last one, also when the admin who remains demotes themselves at the same moment.
func TestLastAdminInvitationRevoked(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		env := apptest.New(t, st)
		svc := env.App.Admin
		cli := tenantadmin.Actor{ID: "cli", Address: "cli"}
		member := storage.RoleMember

		t.Run("after the last signed-up admin left", func(t *testing.T) {
			ten := env.Tenant("Invite")
			boss := signedUpAdmin(t, st, ten.ID, "boss@invite.test")
			inv, err := svc.Invite(ctx, tenantadmin.Actor{ID: boss.ID}, ten, "next@invite.test", "", storage.RoleAdmin)
			if err != nil {
				t.Fatal(err)
			}
			// The invited admin counts: the boss may hand over.
			if _, _, err := svc.UpdateUser(ctx, tenantadmin.Actor{ID: boss.ID}, ten.ID, boss.ID, tenantadmin.UserChange{Role: &member}); err != nil {
				t.Fatalf("demote the boss with an admin invited: %v", err)
			}
			if err := svc.RevokeInvitation(ctx, cli, ten, inv.Link.ID); !errors.Is(err, tenantadmin.ErrLastAdmin) {
				t.Errorf("revoke the last admin's invitation: err = %v, want ErrLastAdmin", err)
			}
			if _, err := st.UserByID(ctx, inv.User.ID); err != nil {
				t.Errorf("the invited admin went: %v", err)
			}
		})
		t.Run("with another admin", func(t *testing.T) {
			ten := env.Tenant("Invite")
			boss := signedUpAdmin(t, st, ten.ID, "boss@invite.test")
			inv, err := svc.Invite(ctx, tenantadmin.Actor{ID: boss.ID}, ten, "next@invite.test", "", storage.RoleAdmin)
			if err != nil {
				t.Fatal(err)
			}
			if err := svc.RevokeInvitation(ctx, tenantadmin.Actor{ID: boss.ID}, ten, inv.Link.ID); err != nil {
				t.Fatalf("revoke an invitation: %v", err)
			}
			if _, err := st.UserByID(ctx, inv.User.ID); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("the revoked invitation's user is still there: %v", err)
			}
		})
		t.Run("while the other admin leaves", func(t *testing.T) {
			const rounds = 30
			lost := 0
			for round := range rounds {
				ten := env.Tenant("Invite")
				boss := signedUpAdmin(t, st, ten.ID, "boss@invite.test")
				inv, err := svc.Invite(ctx, tenantadmin.Actor{ID: boss.ID}, ten, "next@invite.test", "", storage.RoleAdmin)
				if err != nil {
					t.Fatal(err)
				}
				var wg sync.WaitGroup
				start := make(chan struct{})
				errs := make([]error, 2)
				wg.Go(func() { <-start; errs[0] = svc.RevokeInvitation(ctx, tenantadmin.Actor{ID: boss.ID}, ten, inv.Link.ID) })
				wg.Go(func() {
					<-start
					_, _, errs[1] = svc.UpdateUser(ctx, tenantadmin.Actor{ID: boss.ID}, ten.ID, boss.ID, tenantadmin.UserChange{Role: &member})
				})
				close(start)
				wg.Wait()
				for i, err := range errs {
					if err != nil && !errors.Is(err, tenantadmin.ErrLastAdmin) {
						t.Errorf("round %d: change %d: %v", round, i, err)
					}
				}
				if n, err := st.CountActiveAdmins(ctx, ten.ID); err != nil {
					t.Fatal(err)
				} else if n == 0 {
					lost++
				}
			}
			if lost > 0 {
				t.Errorf("the tenant was left without an active admin in %d of %d rounds", lost, rounds)
			}
		})
	})
}

// TestRevokeInvitationRacingAcceptance: an admin revokes an invitation while the invited user accepts
// it. Either the acceptance wins and the user, who has chosen a password, stays (the revocation answers
// that it was accepted), or the revocation wins and the acceptance fails: never a user deleted right
// after choosing a password.
func TestRevokeInvitationRacingAcceptance(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMailEnv(t, st, false)
		ctx := context.Background()
		const rounds = 20
		accepted := 0
		for round := range rounds {
			email := fmt.Sprintf("invitee%d@acme.test", round)
			inv, err := m.env.App.Accounts.Invite(ctx, m.ten, email, "", storage.RoleMember, lifecycle.Actor{ID: "admin"})
			if err != nil {
				t.Fatal(err)
			}
			lu, err := url.Parse(m.deliver(t, email, 1)[0].Link())
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			start := make(chan struct{})
			var errAccept, errRevoke error
			wg.Go(func() {
				<-start
				_, errAccept = m.env.App.Accounts.AcceptInvitation(ctx, lu.Query().Get("token"), "a chosen long passphrase 42", lifecycle.Actor{})
			})
			wg.Go(func() {
				<-start
				// The acceptance hashes its password (~20–40 ms) before it writes: the revocation starts
				// later from round to round, so that some rounds read the invitation as open just before
				// the acceptance commits (the interleaving that matters).
				time.Sleep(time.Duration(round) * 2 * time.Millisecond)
				errRevoke = m.env.App.Admin.RevokeInvitation(ctx, tenantadmin.Actor{ID: "admin"}, m.ten, inv.Link.ID)
			})
			close(start)
			wg.Wait()
			_, errUser := st.UserByID(ctx, inv.User.ID)
			switch {
			case errAccept == nil && errUser != nil:
				t.Errorf("round %d: the user who accepted was deleted (revoke: %v, user: %v)", round, errRevoke, errUser)
			case errAccept == nil:
				accepted++
				if !errors.Is(errRevoke, lifecycle.ErrAccepted) {
					t.Errorf("round %d: the revocation of an accepted invitation answered %v", round, errRevoke)
				}
			case errRevoke != nil:
				t.Errorf("round %d: both failed: accept %v, revoke %v", round, errAccept, errRevoke)
			}
		}
		t.Logf("the acceptance won %d of %d rounds", accepted, rounds)
	})
}

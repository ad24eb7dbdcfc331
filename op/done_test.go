package op

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// TestDone is the provider's MFA gate as a table: for every tenant policy, factor set, acr demand and
// prompt, Done() (whether a code may be issued) follows mfa.Decide, and amr/acr say what was proven.
// prompt only changes what the login UI asks for, never what counts as done. A disabled user, a user
// of another tenant and an expired sign-in are never done.
func TestDone(t *testing.T) {
	st := storagetest.NewSQLite(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := &Storage{Store: st, Now: func() time.Time { return now }}
	pwd, otp, rec := mfa.FactorPassword, mfa.FactorOTP, mfa.FactorRecoveryCode
	factorSets := [][]string{nil, {pwd}, {otp}, {pwd, otp}, {pwd, rec}}

	type world struct {
		tenant         storage.Tenant
		user, disabled storage.User
		client         storage.Client
	}
	worlds := map[bool]world{}
	for _, policy := range []bool{false, true} {
		tn, err := st.CreateTenant(ctx, storage.Tenant{Slug: fmt.Sprintf("t-%v", policy), Name: "T", MFAEnabled: policy})
		if err != nil {
			t.Fatal(err)
		}
		u, _ := st.CreateUser(ctx, storage.User{TenantID: tn.ID, Email: "ann@t.test", PasswordHash: "x", Role: storage.RoleMember})
		d, _ := st.CreateUser(ctx, storage.User{TenantID: tn.ID, Email: "dan@t.test", PasswordHash: "x", Role: storage.RoleMember, Disabled: true})
		c, err := st.CreateClient(ctx, storage.Client{TenantID: tn.ID, Name: "app", RedirectURIs: []string{"https://app.test/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		worlds[policy] = world{tenant: tn, user: u, disabled: d, client: c}
	}
	check := func(name string, w world, userID string, factors []string, requireMFA bool, prompt []string, expires time.Time, want bool) {
		t.Helper()
		a := storage.AuthRequest{ID: storage.NewID(), TenantID: w.tenant.ID, ClientID: w.client.ID, RedirectURI: "https://app.test/cb",
			ResponseType: "code", Prompt: prompt, RequireMFA: requireMFA, CreatedAt: now, ExpiresAt: expires, UserID: userID,
			Factors: factors, AuthTime: now}
		if err := st.CreateAuthRequest(ctx, a); err != nil {
			t.Fatal(err)
		}
		got, err := s.AuthRequestByID(ctx, a.ID)
		if err != nil { // an expired sign-in is refused outright
			if want || expires.After(now) {
				t.Errorf("%s: %v", name, err)
			}
			return
		}
		if got.Done() != want {
			t.Errorf("%s: Done() = %v, want %v", name, got.Done(), want)
		}
		if userID != "" && (!slices.Equal(got.GetAMR(), mfa.AMR(factors)) || got.GetACR() != mfa.ACR(factors)) {
			t.Errorf("%s: amr %v acr %q", name, got.GetAMR(), got.GetACR())
		}
	}
	for _, policy := range []bool{false, true} {
		w := worlds[policy]
		for _, factors := range factorSets {
			for _, requireMFA := range []bool{false, true} {
				for _, prompt := range [][]string{nil, {oidc.PromptLogin}, {oidc.PromptNone}, {oidc.PromptConsent}} {
					name := fmt.Sprintf("policy=%v factors=%v acr-mfa=%v prompt=%v", policy, factors, requireMFA, prompt)
					want := mfa.Decide(factors, policy, requireMFA).Satisfied
					check(name, w, w.user.ID, factors, requireMFA, prompt, now.Add(time.Minute), want)
					check(name+" disabled user", w, w.disabled.ID, factors, requireMFA, prompt, now.Add(time.Minute), false)
					check(name+" expired", w, w.user.ID, factors, requireMFA, prompt, now, false)
					check(name+" no user", w, "", factors, requireMFA, prompt, now.Add(time.Minute), false)
					check(name+" another tenant's user", w, worlds[!policy].user.ID, factors, requireMFA, prompt, now.Add(time.Minute), false)
				}
			}
		}
	}
}

package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
	"github.com/portcullis/portcullis/tenantadmin"
)

// parkBeforeCallback makes b stop at the provider's callback instead of following it: a sign-in that
// proved every factor, waiting (up to the sign-in's lifetime) for its code.
func parkBeforeCallback(b *apptest.Browser) {
	prev := b.Client.CheckRedirect
	b.Client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Path == "/authorize/callback" {
			return http.ErrUseLastResponse
		}
		return prev(req, via)
	}
}

// callbackOf returns the callback URL a parked sign-in stopped at.
func callbackOf(t *testing.T, p *apptest.Page) string {
	t.Helper()
	if p.Redirect == nil || p.Redirect.Path != "/authorize/callback" {
		t.Fatalf("not parked at the callback: %d %s %v", p.Status, p.URL, p.Redirect)
	}
	return p.Redirect.String()
}

// The admin's MFA reset (the lost-phone case) ends the user's sessions and revokes their tokens; a
// sign-in that proved the old factors and is waiting at the callback (or whose code the app has not
// redeemed yet) must not yield tokens after it: whoever holds the lost phone would get in after the
// reset.
func TestMFAResetEndsSignInsInFlight(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMFAEnv(t, st, true)
		secret, _, _, _ := m.enrol(t, m.env.NewBrowser())
		ctx := context.Background()

		thief := m.env.NewBrowser()
		parkBeforeCallback(thief)
		parked, p := m.password(t, thief)
		m.env.Clock.Advance(30 * time.Second)
		p = thief.Submit(p, "/login/otp", map[string]string{"code": apptest.Code(t, secret, m.env.Clock.Now())})
		callback := callbackOf(t, p)

		m.env.Clock.Advance(30 * time.Second)
		b := m.env.NewBrowser()
		coded, p := m.password(t, b)
		p = b.Submit(p, "/login/otp", map[string]string{"code": apptest.Code(t, secret, m.env.Clock.Now())})
		code := coded.Code(t, p) // issued, not yet redeemed

		if _, err := m.env.App.Admin.ResetMFA(ctx, tenantadmin.Actor{ID: "cli", Address: "cli"}, m.user); err != nil {
			t.Fatal(err)
		}
		if q := thief.Get(callback); q.Redirect != nil && q.Redirect.Query().Get("code") != "" {
			if _, err := m.rp.Exchange(q.Redirect.Query().Get("code"), parked); err == nil {
				t.Errorf("a sign-in parked at the callback got tokens after the MFA reset")
			}
		}
		if _, err := m.rp.Exchange(code, coded); err == nil {
			t.Errorf("a code issued before the MFA reset was redeemed after it")
		}
	})
}

// Removing a key (lost or stolen) ends the sessions signed in with it; a sign-in that proved it and
// waits at the callback ends too.
func TestKeyRemovalEndsSignInsInFlight(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newKeyEnv(t, st, true)
		key := m.authenticator()
		m.enrolKey(t, key)
		ctx := context.Background()

		thief := m.env.NewBrowser()
		parkBeforeCallback(thief)
		parked := m.rp.Start()
		p := thief.Get(parked.URL)
		p = thief.Submit(p, "/login/passkey", map[string]string{"credential": string(key.Get(options(t, p)))})
		callback := callbackOf(t, p)

		creds, err := st.CredentialsByUser(ctx, m.user.ID)
		if err != nil || len(creds) != 1 {
			t.Fatalf("keys %v %v", creds, err)
		}
		if err := st.DeleteCredential(ctx, m.user.ID, creds[0].ID, mfa.FactorHardwareKey, mfa.AMRHardwareKey,
			storage.AuditEvent{TenantID: m.ten.ID, Action: mfa.AuditKeyRemoved, CreatedAt: m.env.Clock.Now()}); err != nil {
			t.Fatal(err)
		}
		q := thief.Get(callback)
		if q.Redirect != nil && q.Redirect.Query().Get("code") != "" {
			if _, err := m.rp.Exchange(q.Redirect.Query().Get("code"), parked); err == nil {
				t.Errorf("a sign-in with the removed key got tokens after its removal")
			}
		}
		if strings.Contains(q.Body, "code=") {
			t.Errorf("callback answer carries a code: %s", q.Body)
		}
	})
}

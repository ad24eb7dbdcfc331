package app_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/mfa/webauthntest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

type policyMethodsOut struct {
	Enabled bool     `json:"enabled"`
	Methods []string `json:"methods"`
}

// The policy's methods on the admin API: both by default, phishing-resistant only on request, audited;
// and an admin's MFA reset removes the user's keys.
func TestAdminAPIPolicyMethodsAndResetRemovesKeys(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		e := newAdminEnv(t, st)
		token := serviceToken(t, e.rp, e.svc, e.svcSecret)
		if p := decode[policyMethodsOut](t, e.call(t, "GET", "/mfa-policy", token, "")); !slices.Equal(p.Methods, []string{"totp", "webauthn"}) {
			t.Fatalf("default methods %v", p.Methods)
		}
		r := e.call(t, "PUT", "/mfa-policy", token, `{"enabled":true,"methods":["webauthn"]}`)
		if p := decode[policyMethodsOut](t, r); r.Status != 200 || !p.Enabled || !slices.Equal(p.Methods, []string{"webauthn"}) {
			t.Fatalf("PUT phishing-resistant only: %d %s", r.Status, r.Body)
		}
		// Without methods the methods stay.
		if p := decode[policyMethodsOut](t, e.call(t, "PUT", "/mfa-policy", token, `{"enabled":true}`)); !slices.Equal(p.Methods, []string{"webauthn"}) {
			t.Fatalf("methods after a PUT without them: %v", p.Methods)
		}
		found := false
		for _, ev := range auditEvents(t, st, e.ten.ID, "mfa.policy_changed") {
			if ev.Detail["new_methods"] != nil {
				found = true
			}
		}
		if !found {
			t.Error("no audit event of the methods change")
		}

		// Bob has a key; the admin resets him.
		ctx := context.Background()
		key := webauthntest.New("https://id.example.com", "id.example.com")
		if _, err := st.CreateCredential(ctx, storage.WebAuthnCredential{CredentialID: key.CredentialID, UserID: e.bob.ID, TenantID: e.ten.ID,
			PublicKey: []byte{1}, Name: "key", CreatedAt: e.env.Clock.Now()}); err != nil {
			t.Fatal(err)
		}
		if r := e.call(t, "DELETE", "/users/"+e.bob.ID+"/mfa", token, ""); r.Status != 200 {
			t.Fatalf("reset: %d %s", r.Status, r.Body)
		}
		if creds, err := st.CredentialsByUser(ctx, e.bob.ID); err != nil || len(creds) != 0 {
			t.Fatalf("keys after the reset: %v %v", creds, err)
		}
	})
}

// The settings page's checkboxes set the policy's methods; none at all is refused.
func TestAdminPagesPolicyMethods(t *testing.T) {
	st := storagetest.NewSQLite(t)
	pe := newPagesEnv(t, st)
	b := pe.env.NewBrowser()
	p := pe.signInToSettings(t, b, pe.admin.Email)
	wantSettings(t, p)
	if !strings.Contains(p.Body, `value="totp" checked`) || !strings.Contains(p.Body, `value="webauthn" checked`) {
		t.Fatal("both methods should be checked by default")
	}
	p = b.Submit(p, "/admin/settings/security/mfa/methods", map[string]string{"methods": "webauthn"})
	if p.URL.Path != settingsPath || !strings.Contains(p.Body, "second factors your organisation allows were changed") {
		t.Fatalf("after saving: %d %s", p.Status, p.URL)
	}
	if ten, _ := st.TenantByID(context.Background(), pe.ten.ID); !slices.Equal(ten.MFAMethods, []string{"webauthn"}) {
		t.Fatalf("methods %v", ten.MFAMethods)
	}
	if strings.Contains(p.Body, `value="totp" checked`) || !strings.Contains(p.Body, `value="webauthn" checked`) {
		t.Error("after saving, only passkeys should be checked")
	}
	f := p.Form(t, "/admin/settings/security/mfa/methods")
	f.Fields.Del("methods")
	if q := b.Post(pe.env.URL+f.Action, f.Fields); q.Status != 400 {
		t.Errorf("no method at all: %d", q.Status)
	}
}

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
		// The PUT that turned the policy on and chose the methods is one change: one audit event with
		// both (and the PUT without methods another, without them).
		evs := auditEvents(t, st, e.ten.ID, "mfa.policy_changed")
		if len(evs) != 2 {
			t.Fatalf("%d policy audit events after two PUTs, want 2: %+v", len(evs), evs)
		}
		withMethods := 0
		for _, ev := range evs {
			if ev.Detail["new_methods"] != nil {
				withMethods++
				if ev.Detail["new"] != true || ev.Detail["old"] != false {
					t.Errorf("the methods change's event lacks the on/off change: %v", ev.Detail)
				}
			}
		}
		if withMethods != 1 {
			t.Errorf("%d events carry the methods change, want 1", withMethods)
		}
		// An unknown method refuses the whole change: the policy stays on and the methods stay.
		if r := e.call(t, "PUT", "/mfa-policy", token, `{"enabled":false,"methods":["sms"]}`); r.Status < 400 || r.Status >= 500 {
			t.Fatalf("PUT with an unknown method: %d %s", r.Status, r.Body)
		}
		if p := decode[policyMethodsOut](t, e.call(t, "GET", "/mfa-policy", token, "")); !p.Enabled || !slices.Equal(p.Methods, []string{"webauthn"}) {
			t.Errorf("after a refused PUT: enabled %v methods %v", p.Enabled, p.Methods)
		}
		if n := len(auditEvents(t, st, e.ten.ID, "mfa.policy_changed")); n != 2 {
			t.Errorf("a refused PUT wrote an audit event (%d)", n)
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

package app_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// An essential acr claim for the phishing-resistant level (OIDC Core §5.5.1.1) demands a passkey or
// security key, like acr_values: a TOTP user who proves the code is asked to add a key, the provider
// does not issue a code before, and the tokens say phr. An essential acr none of whose values can be
// met fails the request with unmet_authentication_requirements.
func TestEssentialACRPhishingResistant(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newKeyEnv(t, st, true)
		for i, claims := range []string{
			`{"id_token":{"acr":{"essential":true,"value":"urn:portcullis:acr:phr"}}}`,
			`{"id_token":{"acr":{"essential":true,"values":["urn:example:gold","urn:portcullis:acr:phr"]}}}`,
			`{"userinfo":{"acr":{"essential":true,"values":["urn:portcullis:acr:phr"]}}}`,
		} {
			// A new user with an authenticator app and no key.
			m.user = m.env.User(m.ten.ID, fmt.Sprintf("user%d@acme.test", i), pw, storage.RoleMember)
			secret, _, _, _ := m.enrol(t, m.env.NewBrowser())
			param := oauth2.SetAuthURLParam("claims", claims)
			code := func(b *apptest.Browser, p *apptest.Page) *apptest.Page {
				t.Helper()
				if !strings.HasPrefix(p.URL.Path, "/login/otp") {
					t.Fatalf("%s, TOTP user: %s, want the code first", claims, p.URL)
				}
				m.env.Clock.Advance(60e9)
				return b.Submit(p, "/login/otp", map[string]string{"code": apptest.Code(t, secret, m.env.Clock.Now())})
			}

			// The provider itself does not take the code as enough: the callback after it refuses.
			b := m.env.NewBrowser()
			_, p := m.password(t, b, param)
			p = code(b, p)
			if p.Redirect != nil {
				t.Fatalf("%s: after the code the app got %v, want a key first", claims, p.Redirect)
			}
			id := p.URL.Query().Get("authRequestID")
			if q := b.Get(m.env.URL + "/authorize/callback?id=" + id); q.Redirect == nil || apptest.AppError(q) != "interaction_required" {
				t.Fatalf("%s: callback after the code: %d %v, want interaction_required", claims, q.Status, q.Redirect)
			}

			// The login UI asks for a key; with it the tokens say phr.
			b = m.env.NewBrowser()
			a, p := m.password(t, b, param)
			p = code(b, p)
			if !strings.HasPrefix(p.URL.Path, "/login/key-enrol") {
				t.Fatalf("%s: after the code: %s, want to add a key", claims, p.URL)
			}
			key := m.authenticator()
			p = b.Submit(p, "/login/key-enrol", map[string]string{"credential": string(key.Create(options(t, p)))})
			if c := m.claims(t, a, p); c.ACR != "urn:portcullis:acr:phr" || !slices.Contains(c.AMR, "hwk") {
				t.Errorf("%s: amr %v acr %q, want phr", claims, c.AMR, c.ACR)
			}
			// Ann now has a key; the next sign-in of this kind offers it.
			b = m.env.NewBrowser()
			a, p = m.password(t, b, param)
			if !strings.HasPrefix(p.URL.Path, "/login/key") {
				t.Fatalf("%s, user with a key: %s, want the key page", claims, p.URL)
			}
			p = b.Submit(p, "/login/key", map[string]string{"credential": string(key.Get(options(t, p)))})
			if c := m.claims(t, a, p); c.ACR != "urn:portcullis:acr:phr" {
				t.Errorf("%s, with the key: acr %q", claims, c.ACR)
			}
		}

		// Essential values none of which can be met: the app gets unmet_authentication_requirements
		// (with its state), and nobody is asked to sign in.
		for _, claims := range []string{
			`{"id_token":{"acr":{"essential":true,"value":"urn:example:gold"}}}`,
			`{"id_token":{"acr":{"essential":true,"values":["urn:example:gold","urn:example:silver"]}}}`,
		} {
			a := m.rp.Start(oauth2.SetAuthURLParam("claims", claims))
			p := m.env.NewBrowser().Get(a.URL)
			if apptest.AppError(p) != "unmet_authentication_requirements" || p.Redirect.Query().Get("state") != a.State {
				t.Errorf("%s: %d %v, want unmet_authentication_requirements with the state", claims, p.Status, p.Redirect)
			}
		}
		// The same values merely voluntary are no error.
		p := m.env.NewBrowser().Get(m.rp.Start(oauth2.SetAuthURLParam("claims", `{"id_token":{"acr":{"values":["urn:example:gold"]}}}`)).URL)
		if !isLoginForm(p) {
			t.Errorf("voluntary unknown acr: %d %v, want the sign-in page", p.Status, p.Redirect)
		}
	})
}

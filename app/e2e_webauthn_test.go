package app_test

import (
	"context"
	"errors"
	"html"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/app"
	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/mfa/webauthntest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// newKeyEnv is an mfaEnv on an issuer http://localhost:PORT (WebAuthn needs a domain name).
func newKeyEnv(t *testing.T, st *storage.Store, policy bool) *mfaEnv {
	t.Helper()
	env := apptest.New(t, st, func(c *app.Config) { c.Issuer = strings.Replace(c.Issuer, "127.0.0.1", "localhost", 1) })
	env.URL = strings.Replace(env.URL, "127.0.0.1", "localhost", 1)
	ten := env.Tenant("Acme Inc")
	u := env.User(ten.ID, "ann@acme.test", pw, storage.RoleMember)
	c, sec := env.Client(ten.ID, apptest.ClientOptions{})
	env.SetMFA(ten.ID, policy)
	return &mfaEnv{env: env, ten: ten, user: u, rp: env.RP(c, sec)}
}

func (m *mfaEnv) authenticator() *webauthntest.Authenticator {
	return webauthntest.New(m.env.URL, "localhost")
}

var dataOptions = regexp.MustCompile(`data-options="([^"]*)"`)

// options returns the WebAuthn options that the page hands to webauthn.js.
func options(t testing.TB, p *apptest.Page) []byte {
	t.Helper()
	m := dataOptions.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no webauthn options on %s (%d):\n%s", p.URL, p.Status, p.Body)
	}
	return []byte(html.UnescapeString(m[1]))
}

func (m *mfaEnv) claims(t *testing.T, a *apptest.Attempt, p *apptest.Page) apptest.Claims {
	t.Helper()
	tok, err := m.rp.Exchange(a.Code(t, p), a)
	if err != nil {
		t.Fatal(err)
	}
	return m.rp.IDToken(tok, a.Nonce)
}

// enrolKey signs in for the first time under the policy and chooses a passkey instead of an app.
func (m *mfaEnv) enrolKey(t *testing.T, key *webauthntest.Authenticator) {
	t.Helper()
	b := m.env.NewBrowser()
	a, p := m.password(t, b)
	if !strings.HasPrefix(p.URL.Path, "/login/enrol") || !strings.Contains(p.Body, "Use a passkey or security key instead") {
		t.Fatalf("after the password: %s, want the enrolment page with the key option", p.URL)
	}
	p = b.Get(strings.Replace(p.URL.String(), "/login/enrol?", "/login/key-enrol?", 1))
	if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("key enrolment CSP %q", csp)
	}
	p = b.Submit(p, "/login/key-enrol", map[string]string{"credential": string(key.Create(options(t, p))), "name": "Laptop"})
	c := m.claims(t, a, p)
	if !slices.Equal(c.AMR, []string{"pwd", "hwk", "user", "mfa"}) || c.ACR != "urn:portcullis:acr:phr" {
		t.Errorf("after enrolling a key: amr %v acr %q", c.AMR, c.ACR)
	}
}

func TestWebAuthnSecondFactorAndPasskey(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newKeyEnv(t, st, true)
		key := m.authenticator()
		m.enrolKey(t, key)

		// Password, then the key is offered first.
		b := m.env.NewBrowser()
		a, p := m.password(t, b)
		if !strings.HasPrefix(p.URL.Path, "/login/key") {
			t.Fatalf("after the password: %s, want the key page", p.URL)
		}
		// A wrong answer (another authenticator) is refused and the page asks again.
		p = b.Submit(p, "/login/key", map[string]string{"credential": string(m.authenticator().Get(options(t, p)))})
		if p.Status != 401 {
			t.Fatalf("a foreign key: %d", p.Status)
		}
		p = b.Submit(p, "/login/key", map[string]string{"credential": string(key.Get(options(t, p)))})
		if c := m.claims(t, a, p); !slices.Equal(c.AMR, []string{"pwd", "hwk", "user", "mfa"}) || c.ACR != "urn:portcullis:acr:phr" {
			t.Errorf("password + key: amr %v acr %q", c.AMR, c.ACR)
		}

		// Passwordless: the sign-in page carries a passkey ceremony.
		b = m.env.NewBrowser()
		a = m.rp.Start()
		p = b.Get(a.URL)
		if !strings.Contains(p.Body, `autocomplete="username webauthn"`) || !strings.Contains(p.Body, "Sign in with a passkey") {
			t.Errorf("sign-in page without passkey autofill or button")
		}
		answer := string(key.Get(options(t, p)))
		p = b.Submit(p, "/login/passkey", map[string]string{"credential": answer})
		if c := m.claims(t, a, p); !slices.Equal(c.AMR, []string{"hwk", "user", "mfa"}) || c.ACR != "urn:portcullis:acr:phr" {
			t.Errorf("passkey: amr %v acr %q", c.AMR, c.ACR)
		}

		// The same answer in another sign-in: its challenge is another one.
		b = m.env.NewBrowser()
		a = m.rp.Start()
		p = b.Get(a.URL)
		p = b.Submit(p, "/login/passkey", map[string]string{"credential": answer})
		if p.Status != 401 || p.Redirect != nil {
			t.Errorf("replayed passkey answer: %d %v", p.Status, p.Redirect)
		}
	})
}

func TestWebAuthnPhishingResistantOnly(t *testing.T) {
	m := newKeyEnv(t, storagetest.NewSQLite(t), true)
	// Ann has an authenticator app.
	secret, _, _, _ := m.enrol(t, m.env.NewBrowser())
	if _, _, err := m.env.Store.SetMFAMethods(context.Background(), m.ten.ID, []string{"webauthn"}, storage.AuditEvent{Action: "mfa.policy_changed"}); err != nil {
		t.Fatal(err)
	}
	b := m.env.NewBrowser()
	a, p := m.password(t, b)
	if !strings.HasPrefix(p.URL.Path, "/login/otp") {
		t.Fatalf("phishing-resistant only, TOTP user: %s, want the code first", p.URL)
	}
	m.env.Clock.Advance(60e9)
	p = b.Submit(p, "/login/otp", map[string]string{"code": apptest.Code(t, secret, m.env.Clock.Now())})
	if !strings.HasPrefix(p.URL.Path, "/login/key-enrol") {
		t.Fatalf("after the code: %s, want to add a key", p.URL)
	}
	key := m.authenticator()
	p = b.Submit(p, "/login/key-enrol", map[string]string{"credential": string(key.Create(options(t, p)))})
	if c := m.claims(t, a, p); c.ACR != "urn:portcullis:acr:phr" || !slices.Contains(c.AMR, "hwk") {
		t.Errorf("amr %v acr %q", c.AMR, c.ACR)
	}
}

func TestWebAuthnStepUpPHR(t *testing.T) {
	m := newKeyEnv(t, storagetest.NewSQLite(t), false)
	key := m.authenticator()
	// Policy off: ann signs in with her password, then the app asks for phr: she adds a key (no second
	// factor yet, so the key is her first).
	b := m.env.NewBrowser()
	a, p := m.password(t, b, oauth2.SetAuthURLParam("acr_values", "urn:portcullis:acr:phr"))
	if !strings.HasPrefix(p.URL.Path, "/login/key-enrol") {
		t.Fatalf("phr demanded: %s, want to add a key", p.URL)
	}
	p = b.Submit(p, "/login/key-enrol", map[string]string{"credential": string(key.Create(options(t, p)))})
	if c := m.claims(t, a, p); c.ACR != "urn:portcullis:acr:phr" {
		t.Errorf("step-up acr %q", c.ACR)
	}
}

func TestWebAuthnOffForIPIssuer(t *testing.T) {
	m := newMFAEnv(t, storagetest.NewSQLite(t), true)
	b := m.env.NewBrowser()
	p := b.Get(m.rp.Start().URL)
	if strings.Contains(p.Body, "passkey") || strings.Contains(p.Body, "webauthn") {
		t.Error("an IP-address issuer shows passkeys")
	}
	if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
}

// A passkey that does not verify its user (no PIN or biometric) names the user and proves possession:
// one factor. The password is then asked for that user only, and the two together are the MFA (and
// phishing-resistant) sign-in. A password of anyone else starts over without the key.
func TestWebAuthnPasskeyWithoutUserVerification(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newKeyEnv(t, st, true)
		key := m.authenticator()
		m.enrolKey(t, key)
		key.UserVerified = false
		bob := m.env.User(m.ten.ID, "bob@acme.test", pw, storage.RoleMember)

		keyFirst := func(b *apptest.Browser) (*apptest.Attempt, *apptest.Page) {
			t.Helper()
			a := m.rp.Start()
			p := b.Get(a.URL)
			p = b.Submit(p, "/login/passkey", map[string]string{"credential": string(key.Get(options(t, p)))})
			if p.URL.Path != "/login/password" || !strings.Contains(p.Body, "Enter your password to finish") {
				t.Fatalf("after a key without user verification: %s (%d), want the password page", p.URL, p.Status)
			}
			if !strings.Contains(p.Body, `value="ann@acme.test"`) || !strings.Contains(p.Body, " readonly") ||
				strings.Contains(p.Body, "Sign in with a passkey") {
				t.Errorf("password page after the key: email not fixed, or a passkey offered again:\n%s", p.Body)
			}
			return a, p
		}

		b := m.env.NewBrowser()
		a, p := keyFirst(b)
		// The key alone is not a sign-in: the second-factor pages and the provider's callback refuse.
		for _, path := range []string{"/login/otp", "/login/key", "/login/key-enrol"} {
			if q := b.Get(m.env.URL + path + "?" + p.URL.RawQuery); q.Status < 400 {
				t.Errorf("%s after only a key: %d", path, q.Status)
			}
		}
		p = b.Get(m.env.URL + "/login/password?" + p.URL.RawQuery)
		q := b.Submit(p, "/login/password", map[string]string{"password": "wrong password"})
		if q.Status != 401 || !strings.Contains(q.Body, "Enter your password to finish") {
			t.Errorf("wrong password after the key: %d", q.Status)
		}
		q = b.Submit(q, "/login/password", map[string]string{"password": pw})
		if c := m.claims(t, a, q); !slices.Equal(c.AMR, []string{"pwd", "hwk", "mfa"}) || c.ACR != "urn:portcullis:acr:phr" {
			t.Errorf("key without user verification + password: amr %v acr %q", c.AMR, c.ACR)
		}

		// Another user's email and password after ann's key: bob signs in with his password only, so the
		// policy sends him to enrol; ann's key is not his factor.
		b = m.env.NewBrowser()
		_, p = keyFirst(b)
		f := p.Form(t, "/login/password")
		f.Fields.Set("email", bob.Email)
		f.Fields.Set("password", pw)
		q = b.Post(m.env.URL+"/login/password", f.Fields)
		if !strings.HasPrefix(q.URL.Path, "/login/enrol") {
			t.Errorf("bob's password after ann's key: %s (%d), want bob's enrolment", q.URL, q.Status)
		}
	})
}

// Refused key answers at the key step count like wrong codes: the fifth locks the second factor, the
// sign-in ends with a 429 page, and the right key is refused until the lockout ends.
func TestWebAuthnKeyRefusalsLockOut(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newKeyEnv(t, st, true)
		key := m.authenticator()
		m.enrolKey(t, key)
		b := m.env.NewBrowser()
		_, p := m.password(t, b)
		last := p
		for i := 1; i <= 5 && last.Status != 429; i++ {
			last = b.Submit(p, "/login/key", map[string]string{"credential": string(m.authenticator().Get(options(t, p)))})
			if last.Status == 401 {
				p = last
			}
			m.env.Clock.Advance(time.Minute)
		}
		if last.Status != 429 || last.Header.Get("Retry-After") == "" {
			t.Fatalf("after five foreign keys: %d, want 429 with Retry-After", last.Status)
		}
		b = m.env.NewBrowser()
		_, p = m.password(t, b)
		if p.Status != 200 {
			t.Fatalf("password while the second factor is locked: %d", p.Status)
		}
		if q := b.Submit(p, "/login/key", map[string]string{"credential": string(key.Get(options(t, p)))}); q.Status != 429 {
			t.Errorf("the right key while locked out: %d, want 429", q.Status)
		}
	})
}

// A user whose only second factor is a passkey signs in where WebAuthn is off (an instance on the same
// database whose issuer is an IP address, which WebAuthn cannot use): the password alone must not get
// them an authenticator app in the key's place, which would let a password thief add their own. The
// key step says keys cannot be used here; nothing is enrolled.
func TestKeyOnlyUserWhereKeysAreOff(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newKeyEnv(t, st, true)
		m.enrolKey(t, m.authenticator())
		off := apptest.New(t, st) // http://127.0.0.1:PORT: passkeys and security keys are off
		c, sec := off.Client(m.ten.ID, apptest.ClientOptions{})
		rp := off.RP(c, sec)
		b := off.NewBrowser()
		a := rp.Start()
		p := b.Submit(b.Get(a.URL), "/login/password", map[string]string{"email": m.user.Email, "password": pw})
		if p.Status != http.StatusNotFound || !strings.Contains(p.Body, "Passkeys are not available here") {
			t.Fatalf("after the password: %s (%d), want the page saying keys cannot be used here", p.URL, p.Status)
		}
		id := p.URL.Query().Get("authRequestID")
		for _, page := range []string{"/login/enrol", "/login/key-enrol", "/login/otp", "/login/key"} {
			q := b.Get(off.URL + page + "?authRequestID=" + id)
			if q.Status == http.StatusOK || strings.Contains(q.Body, `name="code"`) {
				t.Errorf("%s answered %d with a form", page, q.Status)
			}
		}
		if au, err := st.AuthenticatorByUser(context.Background(), m.user.ID); err == nil && au.State == storage.AuthenticatorActive {
			t.Errorf("an authenticator app was set up: %+v", au)
		} else if err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Fatal(err)
		}
	})
}

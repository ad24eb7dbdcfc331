package app_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

const addKeyAction = "/admin/account/keys/add"

// accountWithPassword signs in to the account page with the password (the tenant's policy asks nothing
// more) and returns the page.
func (m *mfaEnv) accountWithPassword(t *testing.T, b *apptest.Browser) *apptest.Page {
	t.Helper()
	p := b.Get(m.env.URL + "/admin/account")
	p = b.Submit(p, "/login/password", map[string]string{"email": m.user.Email, "password": pw})
	if p.URL.Path != "/admin/account" {
		t.Fatalf("account sign-in: %s %d\n%s", p.URL, p.Status, p.Body)
	}
	return p
}

// keyCount is how many keys the user has.
func keyCount(t *testing.T, st *storage.Store, userID string) int {
	t.Helper()
	creds, err := st.CredentialsByUser(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return len(creds)
}

// A user with an authenticator app adds a key from the account page after a fresh sign-in with the
// code; replays, a registered credential, a wrong origin and a post without CSRF token are refused
// with nothing written; the new key then signs in without a password.
func TestAccountAddKey(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newKeyEnv(t, st, true)
		secret, _, _, _ := m.enrol(t, m.env.NewBrowser())

		b := m.env.NewBrowser()
		p := b.Get(m.env.URL + "/admin/account")
		p = b.Submit(p, "/login/password", map[string]string{"email": m.user.Email, "password": pw})
		m.env.Clock.Advance(30 * time.Second)
		p = b.Submit(p, "/login/otp", map[string]string{"code": apptest.Code(t, secret, m.env.Clock.Now())})
		if p.URL.Path != "/admin/account" || !strings.Contains(p.Body, "Add a passkey or security key") ||
			!strings.Contains(p.Body, `src="/login/static/webauthn.js"`) {
			t.Fatalf("account page after a fresh sign-in with the code: %s %d\n%s", p.URL, p.Status, p.Body)
		}
		if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
			t.Errorf("account page CSP %q, want same-origin script only", csp)
		}
		if strings.Contains(p.Body, `id="setup-app"`) {
			t.Error("a user with an app is offered to set one up")
		}

		// No CSRF token: refused before anything else.
		key := m.authenticator()
		answer := string(key.Create(options(t, p)))
		if q := b.Post(m.env.URL+addKeyAction, url.Values{"credential": {answer}}); q.Status != 403 || keyCount(t, st, m.user.ID) != 0 {
			t.Fatalf("without a CSRF token: %d, %d keys", q.Status, keyCount(t, st, m.user.ID))
		}

		p = b.Submit(p, addKeyAction, map[string]string{"credential": answer, "name": "Phone"})
		if p.URL.Path != "/admin/account" || p.Status != 200 || !strings.Contains(p.Body, "Your passkey or security key was added") ||
			!strings.Contains(p.Body, `value="Phone"`) {
			t.Fatalf("after adding: %s %d\n%s", p.URL, p.Status, p.Body)
		}
		evs, err := st.ListAudit(context.Background(), m.ten.ID, 0, 20)
		if err != nil {
			t.Fatal(err)
		}
		if i := slices.IndexFunc(evs, func(e storage.AuditEvent) bool { return e.Action == mfa.AuditKeyAdded }); i < 0 ||
			evs[i].Detail["ceremony"] != "account_register" || evs[i].ActorID != m.user.ID {
			t.Errorf("no key_added audit event of the account page: %+v", evs)
		}

		refusals := []struct {
			name   string
			answer func(opts []byte) string
		}{
			{"replayed answer", func([]byte) string { return answer }},
			{"registered credential", func(opts []byte) string { return string(key.Create(opts)) }},
			{"wrong origin", func(opts []byte) string {
				k := m.authenticator()
				k.Origin = "https://evil.example"
				return string(k.Create(opts))
			}},
			{"no answer", func([]byte) string { return "" }},
		}
		for _, r := range refusals {
			p = b.Submit(p, addKeyAction, map[string]string{"credential": r.answer(options(t, p))})
			if p.Status != 400 || p.URL.Path != addKeyAction || !strings.Contains(p.Body, "No passkey or security key was added") {
				t.Errorf("%s: %s %d\n%s", r.name, p.URL, p.Status, p.Body)
			}
			if n := keyCount(t, st, m.user.ID); n != 1 {
				t.Fatalf("%s: %d keys, want 1", r.name, n)
			}
		}

		// The new key signs in without a password.
		pb := m.env.NewBrowser()
		a := m.rp.Start()
		p = pb.Get(a.URL)
		p = pb.Submit(p, "/login/passkey", map[string]string{"credential": string(key.Get(options(t, p)))})
		if c := m.claims(t, a, p); !slices.Equal(c.AMR, []string{"hwk", "user", "mfa"}) || c.ACR != mfa.ACRPHR {
			t.Errorf("passkey added on the account page: amr %v acr %q", c.AMR, c.ACR)
		}
	})
}

// A user with a second factor adds a key only after a fresh sign-in that proved it: a stale sign-in,
// and a recent one with the password alone, are refused; the "sign in again" link asks for the code
// and comes back to the page.
func TestAccountAddKeyNeedsFreshSecondFactor(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newKeyEnv(t, st, true)
		secret, _, _, _ := m.enrol(t, m.env.NewBrowser())
		m.env.SetMFA(m.ten.ID, false) // the policy asks for the password only now

		b := m.env.NewBrowser()
		p := m.accountWithPassword(t, b)
		if strings.Contains(p.Body, addKeyAction) || strings.Contains(p.Body, "data-options") ||
			!strings.Contains(p.Body, "Sign in again to add a passkey or security key") {
			t.Fatalf("a password-only sign-in of a user with an app may add a key:\n%s", p.Body)
		}
		if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'none'") {
			t.Errorf("account page without a ceremony: CSP %q", csp)
		}
		// Posting anyway is refused, before any ceremony.
		q := b.Post(m.env.URL+addKeyAction, url.Values{"_csrf": {p.CSRFToken()}, "credential": {`{"id":"x"}`}})
		if q.Status != 403 || !strings.Contains(q.Body, "sign in again with your second factor") || keyCount(t, st, m.user.ID) != 0 {
			t.Fatalf("password-only post: %d\n%s", q.Status, q.Body)
		}

		// The link signs in again with the code and comes back here, where a key can be added.
		link := p.Find("keys", "")
		i := strings.Index(link, "/admin/signin?")
		if i < 0 {
			t.Fatalf("no sign-in-again link:\n%s", link)
		}
		href := strings.ReplaceAll(link[i:i+strings.IndexByte(link[i:], '"')], "&amp;", "&")
		if !strings.Contains(href, "fresh=1") {
			t.Errorf("sign-in-again link %q does not ask for the second factor", href)
		}
		p = b.Get(m.env.URL + href)
		p = b.Submit(p, "/login/password", map[string]string{"email": m.user.Email, "password": pw})
		if !strings.HasPrefix(p.URL.Path, "/login/otp") {
			t.Fatalf("fresh sign-in: %s, want the code", p.URL)
		}
		m.env.Clock.Advance(30 * time.Second)
		p = b.Submit(p, "/login/otp", map[string]string{"code": apptest.Code(t, secret, m.env.Clock.Now())})
		if p.URL.Path != "/admin/account" || !strings.Contains(p.Body, addKeyAction) {
			t.Fatalf("after the fresh sign-in: %s\n%s", p.URL, p.Body)
		}
		// Eleven minutes later the sign-in is stale: the page's ceremony can no longer be finished.
		key := m.authenticator()
		answer := string(key.Create(options(t, p)))
		m.env.Clock.Advance(11 * time.Minute)
		p = b.Submit(p, addKeyAction, map[string]string{"credential": answer})
		if p.Status != 403 || strings.Contains(p.Body, "data-options") || keyCount(t, st, m.user.ID) != 0 {
			t.Fatalf("stale sign-in: %d, %d keys\n%s", p.Status, keyCount(t, st, m.user.ID), p.Body)
		}
	})
}

// A user without a second factor adds a key after a recent password sign-in (it is their first second
// factor), and is offered to set up an app; once they have the key, adding another needs it.
func TestAccountAddFirstKeyAfterPassword(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newKeyEnv(t, st, false)
		b := m.env.NewBrowser()
		p := m.accountWithPassword(t, b)
		if !strings.Contains(p.Body, addKeyAction) || !strings.Contains(p.Body, `id="setup-app"`) {
			t.Fatalf("a user without a second factor after the password:\n%s", p.Body)
		}
		key := m.authenticator()
		p = b.Submit(p, addKeyAction, map[string]string{"credential": string(key.Create(options(t, p)))})
		if p.URL.Path != "/admin/account" || !strings.Contains(p.Body, `value="Passkey or security key"`) ||
			!strings.Contains(p.Body, "Your passkey or security key was added") {
			t.Fatalf("after adding: %s %d\n%s", p.URL, p.Status, p.Body)
		}
		// Now she has a key, and this sign-in did not use it: the next key needs it first.
		if strings.Contains(p.Body, `action="`+addKeyAction) || strings.Contains(p.Body, `id="setup-app"`) ||
			!strings.Contains(p.Body, "with your second factor") {
			t.Errorf("after the first key a password sign-in still adds keys:\n%s", p.Body)
		}

		// A stale password sign-in of a user without a second factor: sign in again (password).
		m2 := *m
		m2.user = m.env.User(m.ten.ID, "bob@acme.test", pw, storage.RoleMember)
		b2 := m2.env.NewBrowser()
		p = m2.accountWithPassword(t, b2)
		opts := options(t, p)
		m2.env.Clock.Advance(11 * time.Minute)
		p = b2.Submit(p, addKeyAction, map[string]string{"credential": string(m2.authenticator().Create(opts))})
		if p.Status != 403 || !strings.Contains(p.Body, "reauth=1") || keyCount(t, st, m2.user.ID) != 0 {
			t.Fatalf("stale password sign-in: %d\n%s", p.Status, p.Body)
		}
	})
}

// The ceremony belongs to the session that began it: another session of the same user cannot finish
// it, and the refusal leaves the first session's ceremony intact.
func TestAccountAddKeyOtherSession(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newKeyEnv(t, st, false)
		b1, b2 := m.env.NewBrowser(), m.env.NewBrowser()
		p1 := m.accountWithPassword(t, b1)
		p2 := m.accountWithPassword(t, b2)
		key := m.authenticator()
		answer := string(key.Create(options(t, p1)))
		q := b2.Submit(p2, addKeyAction, map[string]string{"credential": answer})
		if q.Status != 400 || keyCount(t, st, m.user.ID) != 0 {
			t.Fatalf("session 1's answer in session 2: %d, %d keys", q.Status, keyCount(t, st, m.user.ID))
		}
		p1 = b1.Submit(p1, addKeyAction, map[string]string{"credential": answer})
		if p1.URL.Path != "/admin/account" || keyCount(t, st, m.user.ID) != 1 {
			t.Fatalf("session 1's own answer: %s %d", p1.URL, p1.Status)
		}
	})
}

// Refusals that never reach a ceremony: a disabled user, an admin's pending enrolment code, and a
// server where WebAuthn is off (an IP-address issuer: no button, and the endpoint is not there).
func TestAccountAddKeyRefusals(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		m := newKeyEnv(t, st, false)

		// Disabled between showing the page and answering: the session no longer opens the page.
		b := m.env.NewBrowser()
		p := m.accountWithPassword(t, b)
		answer := string(m.authenticator().Create(options(t, p)))
		if _, err := st.UpdateUser(ctx, m.user.ID, func(u *storage.User) error { u.Disabled = true; return nil }); err != nil {
			t.Fatal(err)
		}
		if q := b.Submit(p, addKeyAction, map[string]string{"credential": answer}); q.URL.Path == "/admin/account" || keyCount(t, st, m.user.ID) != 0 {
			t.Fatalf("a disabled user: %s %d, %d keys", q.URL, q.Status, keyCount(t, st, m.user.ID))
		}

		// An admin's reset left an enrolment code: the page sends her to a sign-in that asks for it.
		bob := *m
		bob.user = m.env.User(m.ten.ID, "bob@acme.test", pw, storage.RoleMember)
		if err := st.ResetMFA(ctx, bob.user.ID, &storage.EnrolmentCode{TenantID: m.ten.ID, CodeHash: "h", CreatedAt: m.env.Clock.Now(),
			ExpiresAt: m.env.Clock.Now().Add(time.Hour)}, storage.AuditEvent{TenantID: m.ten.ID, Action: "mfa.reset", CreatedAt: m.env.Clock.Now()}); err != nil {
			t.Fatal(err)
		}
		b = m.env.NewBrowser()
		p = bob.accountWithPassword(t, b)
		if strings.Contains(p.Body, "data-options") || !strings.Contains(p.Body, "with the enrolment code they gave you") {
			t.Fatalf("enrolment code pending:\n%s", p.Body)
		}
		if q := b.Post(m.env.URL+addKeyAction, url.Values{"_csrf": {p.CSRFToken()}, "credential": {answer}}); q.Status != 403 ||
			!strings.Contains(q.Body, "enrolment code") || keyCount(t, st, bob.user.ID) != 0 {
			t.Fatalf("posting with an enrolment code pending: %d\n%s", q.Status, q.Body)
		}
		if _, err := st.EnrolmentCodeByUser(ctx, bob.user.ID); err != nil {
			t.Errorf("the enrolment code after a refused add: %v, want it kept", err)
		}
	})

	t.Run("webauthn off", func(t *testing.T) {
		m := newMFAEnv(t, storagetest.NewSQLite(t), false)
		b := m.env.NewBrowser()
		p := m.accountWithPassword(t, b)
		if strings.Contains(p.Body, "Passkeys and security keys") || strings.Contains(p.Body, addKeyAction) || strings.Contains(p.Body, "webauthn") {
			t.Errorf("an IP-address issuer offers keys on the account page:\n%s", p.Body)
		}
		if !strings.Contains(p.Body, `id="setup-app"`) {
			t.Error("no way to set up an authenticator app")
		}
		if q := b.Post(m.env.URL+addKeyAction, url.Values{"_csrf": {p.CSRFToken()}, "credential": {"{}"}}); q.Status != 404 {
			t.Errorf("add endpoint with WebAuthn off: %d", q.Status)
		}
	})
}

// "Set up an authenticator app" on the account page of a user without a second factor: a sign-in that
// demands the second factor leads through the enrolment (app or key) and back to the account page.
func TestAccountSetUpAuthenticatorApp(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newKeyEnv(t, st, false)
		b := m.env.NewBrowser()
		p := m.accountWithPassword(t, b)
		href := strings.ReplaceAll(p.Find("setup-app", "href"), "&amp;", "&")
		if !strings.HasPrefix(href, "/admin/signin?") || !strings.Contains(href, "fresh=1") || !strings.Contains(href, "next=account") {
			t.Fatalf("set-up link %q", href)
		}
		p = b.Get(m.env.URL + href)
		p = b.Submit(p, "/login/password", map[string]string{"email": m.user.Email, "password": pw})
		if !strings.HasPrefix(p.URL.Path, "/login/enrol") || !strings.Contains(p.Body, "Use a passkey or security key instead") {
			t.Fatalf("after the password: %s, want the enrolment with the key option\n%s", p.URL, p.Body)
		}
		secret := apptest.EnrolmentSecret(t, p)
		p = b.Submit(p, "/login/enrol", map[string]string{"code": apptest.Code(t, secret, m.env.Clock.Now())})
		if len(recoveryCodes(p.Body)) != 10 {
			t.Fatalf("after confirming: %d %s\n%s", p.Status, p.URL, p.Body)
		}
		p = b.Get(continueURL(t, p))
		if p.URL.Path != "/admin/account" || !strings.Contains(p.Body, "You confirm each sign-in with a code from your authenticator app") ||
			strings.Contains(p.Body, `id="setup-app"`) {
			t.Fatalf("back on the account page: %s\n%s", p.URL, p.Body)
		}
		// The sign-in proved the new app a moment ago: a key can be added at once.
		if !strings.Contains(p.Body, `action="`+addKeyAction) {
			t.Errorf("after setting up the app no key can be added:\n%s", p.Body)
		}
	})
}

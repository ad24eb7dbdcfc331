package app_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

const (
	appBeginAction   = "/admin/account/app"
	appConfirmAction = "/admin/account/app/confirm"
)

// accountWithCode signs in to the account page with the password and a code of secret (a fresh sign-in
// with the second factor) and returns the page.
func (m *mfaEnv) accountWithCode(t *testing.T, b *apptest.Browser, secret []byte) *apptest.Page {
	t.Helper()
	p := b.Get(m.env.URL + "/admin/account")
	p = b.Submit(p, "/login/password", map[string]string{"email": m.user.Email, "password": pw})
	if !strings.HasPrefix(p.URL.Path, "/login/otp") {
		t.Fatalf("account sign-in after the password: %s, want the code", p.URL)
	}
	m.env.Clock.Advance(30 * time.Second) // a step no earlier code used
	p = b.Submit(p, "/login/otp", map[string]string{"code": apptest.Code(t, secret, m.env.Clock.Now())})
	if p.URL.Path != "/admin/account" {
		t.Fatalf("account sign-in: %s %d\n%s", p.URL, p.Status, p.Body)
	}
	return p
}

// beginApp presses "Set up" / "Replace" and returns the page with this session's secret.
func beginApp(t *testing.T, b *apptest.Browser, p *apptest.Page) (*apptest.Page, []byte) {
	t.Helper()
	p = b.Submit(p, appBeginAction, nil)
	if p.URL.Path != "/admin/account" || p.Status != 200 || !strings.Contains(p.Body, `action="`+appConfirmAction+`"`) {
		t.Fatalf("after beginning: %s %d\n%s", p.URL, p.Status, p.Body)
	}
	return p, apptest.EnrolmentSecret(t, p)
}

// authenticatorID is the id of the user's active app ("" for none).
func authenticatorID(t *testing.T, st *storage.Store, userID string) string {
	t.Helper()
	a, err := st.AuthenticatorByUser(context.Background(), userID)
	if err != nil || a.State != storage.AuthenticatorActive {
		return ""
	}
	return a.ID
}

// signedIn reports whether the browser's session still opens the account page.
func (m *mfaEnv) signedIn(t *testing.T, b *apptest.Browser) bool {
	t.Helper()
	return b.Get(m.env.URL+"/admin/account").URL.Path == "/admin/account"
}

// codeSignIn signs in to the app with the password and a code (the code page reached directly or
// through the key page's "use a code instead") and returns the final page.
func (m *mfaEnv) codeSignIn(t *testing.T, code string) (*apptest.Attempt, *apptest.Page) {
	t.Helper()
	b := m.env.NewBrowser()
	a, p := m.password(t, b)
	if strings.HasPrefix(p.URL.Path, "/login/key") {
		p = b.Get(m.env.URL + "/login/otp?authRequestID=" + url.QueryEscape(p.URL.Query().Get("authRequestID")))
	}
	if !strings.HasPrefix(p.URL.Path, "/login/otp") {
		t.Fatalf("after the password: %s, want the code", p.URL)
	}
	return a, b.Submit(p, "/login/otp", map[string]string{"code": code})
}

// recoverySignIn signs in to the app with the password and a recovery code.
func (m *mfaEnv) recoverySignIn(t *testing.T, b *apptest.Browser, code string, opts ...oauth2.AuthCodeOption) (*apptest.Attempt, *apptest.Page) {
	t.Helper()
	a, p := m.password(t, b, opts...)
	p = b.Get(m.env.URL + "/login/recovery?authRequestID=" + url.QueryEscape(p.URL.Query().Get("authRequestID")))
	return a, b.Submit(p, "/login/recovery", map[string]string{"code": code})
}

// A user with a key but no app sets one up on the account page (after a fresh sign-in with the key):
// the page shows a secret bound to this session, the same at every visit; a post without CSRF token
// and a wrong code activate nothing; the right code activates it, with recovery codes shown once; she
// then signs in with the password and a code of the app.
func TestAccountSetUpAppWithKey(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newKeyEnv(t, st, true)
		key := m.authenticator()
		m.enrolKey(t, key)

		b := m.env.NewBrowser()
		p := b.Get(m.env.URL + "/admin/account")
		p = b.Submit(p, "/login/password", map[string]string{"email": m.user.Email, "password": pw})
		p = b.Submit(p, "/login/key", map[string]string{"credential": string(key.Get(options(t, p)))})
		if p.URL.Path != "/admin/account" || !strings.Contains(p.Find("app-begin", ""), "Set up an authenticator app") ||
			strings.Contains(p.Body, `id="setup-app"`) {
			t.Fatalf("account page of a key-only user after a fresh sign-in with the key: %s\n%s", p.URL, p.Body)
		}
		p, secret := beginApp(t, b, p)
		if !strings.Contains(p.Body, `autocomplete="one-time-code"`) || !strings.Contains(p.Body, "data:image/png;base64,") ||
			!strings.Contains(p.Body, `autocomplete="username"`) {
			t.Errorf("the set-up form lacks the QR code or the password-manager fields:\n%s", p.Body)
		}
		if again := apptest.EnrolmentSecret(t, b.Get(m.env.URL+"/admin/account")); string(again) != string(secret) {
			t.Error("the account page showed another secret at the next visit")
		}

		code := apptest.Code(t, secret, m.env.Clock.Now())
		if q := b.Post(m.env.URL+appConfirmAction, url.Values{"code": {code}}); q.Status != 403 || authenticatorID(t, st, m.user.ID) != "" {
			t.Fatalf("without a CSRF token: %d", q.Status)
		}
		wrong := "000000"
		if wrong == code {
			wrong = "111111"
		}
		q := b.Submit(p, appConfirmAction, map[string]string{"code": wrong})
		if q.Status != 401 || !strings.Contains(q.Body, "That code didn&#39;t work") || authenticatorID(t, st, m.user.ID) != "" ||
			!strings.Contains(q.Body, `action="`+appConfirmAction+`"`) {
			t.Fatalf("a wrong code: %d\n%s", q.Status, q.Body)
		}
		p = b.Submit(p, appConfirmAction, map[string]string{"code": code})
		codes := recoveryCodes(p.Body)
		if p.Status != 200 || len(codes) != 10 || authenticatorID(t, st, m.user.ID) == "" ||
			!strings.Contains(p.Body, "You confirm each sign-in with a code from your authenticator app") ||
			!strings.Contains(p.Find("app-begin", ""), "Replace authenticator app") {
			t.Fatalf("after confirming: %d %d codes\n%s", p.Status, len(codes), p.Body)
		}
		evs, err := st.ListAudit(context.Background(), m.ten.ID, 0, 20)
		if err != nil {
			t.Fatal(err)
		}
		if i := slices.IndexFunc(evs, func(e storage.AuditEvent) bool { return e.Action == mfa.AuditEnrolmentConfirmed }); i < 0 ||
			evs[i].Detail["ceremony"] != mfa.CeremonyAccount || evs[i].Detail["replaced"] != nil {
			t.Errorf("no enrolment audit event of the account page: %+v", evs)
		}
		// This session stays; the key still signs in too.
		if !m.signedIn(t, b) {
			t.Error("setting up the app ended this session")
		}

		// The code that confirmed the app does not sign in; the next one does.
		if _, q := m.codeSignIn(t, code); q.Status != 401 {
			t.Fatalf("the confirming code signed in: %d %v", q.Status, q.Redirect)
		}
		m.env.Clock.Advance(30 * time.Second)
		a, q := m.codeSignIn(t, apptest.Code(t, secret, m.env.Clock.Now()))
		if c := m.claims(t, a, q); !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) {
			t.Errorf("password + code of the new app: amr %v", c.AMR)
		}
		a, q = m.recoverySignIn(t, m.env.NewBrowser(), codes[0])
		if c := m.claims(t, a, q); !slices.Contains(c.AMR, "kba") {
			t.Errorf("a recovery code of the new app: amr %v", c.AMR)
		}
	})
}

// A user replaces her app (a new phone): the old app's codes and recovery codes stop working, the new
// ones work, her other sessions signed in with the old app (code or recovery code) end and this one
// stays, a session signed in with a key is not touched, and she is mailed as for an enrolment.
func TestAccountReplaceApp(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMailEnv(t, st, true)
		oldSecret, oldCodes, _, _ := m.enrol(t, m.env.NewBrowser())
		m.deliver(t, m.user.Email, 1) // the enrolment's notice
		oldID := authenticatorID(t, st, m.user.ID)

		withCode := m.env.NewBrowser()
		m.accountWithCode(t, withCode, oldSecret)
		withRecovery := m.env.NewBrowser()
		a, p := m.recoverySignIn(t, withRecovery, oldCodes[0], oauth2.SetAuthURLParam("scope", "openid offline_access"))
		oldTok, err := m.rp.Exchange(a.Code(t, p), a)
		if err != nil || oldTok.RefreshToken == "" {
			t.Fatalf("tokens of the recovery-code sign-in: %v %+v", err, oldTok)
		}

		b := m.env.NewBrowser()
		p = m.accountWithCode(t, b, oldSecret)
		if !strings.Contains(p.Find("app-begin", ""), "Replace authenticator app") {
			t.Fatalf("no way to replace the app:\n%s", p.Body)
		}
		p, newSecret := beginApp(t, b, p)
		if string(newSecret) == string(oldSecret) {
			t.Fatal("the new secret is the old one")
		}
		// Until confirmed, the old app still works.
		m.env.Clock.Advance(30 * time.Second)
		if authenticatorID(t, st, m.user.ID) != oldID {
			t.Fatal("beginning a replacement changed the app")
		}
		p = b.Submit(p, appConfirmAction, map[string]string{"code": apptest.Code(t, newSecret, m.env.Clock.Now())})
		newCodes := recoveryCodes(p.Body)
		if p.Status != 200 || len(newCodes) != 10 || !strings.Contains(p.Body, "Your new authenticator app is set up") {
			t.Fatalf("after replacing: %d\n%s", p.Status, p.Body)
		}
		if id := authenticatorID(t, st, m.user.ID); id == "" || id == oldID {
			t.Fatalf("authenticator after replacing: %q (old %q)", id, oldID)
		}

		if !m.signedIn(t, b) {
			t.Error("replacing the app ended this session")
		}
		if m.signedIn(t, withCode) {
			t.Error("a session signed in with the old app's code survived the replacement")
		}
		if m.signedIn(t, withRecovery) {
			t.Error("a session signed in with an old recovery code survived the replacement")
		}
		// Its app's refresh token went with the old app too.
		if _, err := m.rp.OAuth.TokenSource(context.Background(), &oauth2.Token{RefreshToken: oldTok.RefreshToken}).Token(); err == nil {
			t.Error("a refresh token of a sign-in with an old recovery code still works after the replacement")
		}

		m.env.Clock.Advance(30 * time.Second)
		if _, q := m.codeSignIn(t, apptest.Code(t, oldSecret, m.env.Clock.Now())); q.Status != 401 || q.Redirect != nil {
			t.Errorf("the old app's code after replacing: %d %v", q.Status, q.Redirect)
		}
		a, q := m.codeSignIn(t, apptest.Code(t, newSecret, m.env.Clock.Now()))
		if c := m.claims(t, a, q); !slices.Contains(c.AMR, "otp") {
			t.Errorf("the new app's code: amr %v", c.AMR)
		}
		if _, q := m.recoverySignIn(t, m.env.NewBrowser(), oldCodes[1]); q.Status != 401 || q.Redirect != nil {
			t.Errorf("an old recovery code after replacing: %d %v", q.Status, q.Redirect)
		}
		a, q = m.recoverySignIn(t, m.env.NewBrowser(), newCodes[0])
		if c := m.claims(t, a, q); !slices.Contains(c.AMR, "kba") {
			t.Errorf("a new recovery code: amr %v", c.AMR)
		}

		msgs := m.deliver(t, m.user.Email, 4) // + the old recovery code used, the replacement, the new recovery code used
		if n := msgs[2]; !strings.Contains(n.Subject, "new authenticator") || !strings.Contains(n.Text, "replaced the app") {
			t.Errorf("replacement notice %q:\n%s", n.Subject, n.Text)
		}
		evs, err := st.ListAudit(context.Background(), m.ten.ID, 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		if i := slices.IndexFunc(evs, func(e storage.AuditEvent) bool {
			return e.Action == mfa.AuditEnrolmentConfirmed && e.Detail["replaced"] == true
		}); i < 0 || evs[i].Detail["ceremony"] != mfa.CeremonyAccount || evs[i].ActorID != m.user.ID {
			t.Errorf("no audit event of the replacement: %+v", evs)
		}
	})
}

// Setting up or replacing the app needs a fresh sign-in that proved a second factor: a password-only
// sign-in and a stale one get the "sign in again" link, and their posts are refused with nothing begun
// or activated.
func TestAccountAppNeedsFreshSecondFactor(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMFAEnv(t, st, true)
		secret, _, _, _ := m.enrol(t, m.env.NewBrowser())
		oldID := authenticatorID(t, st, m.user.ID)
		m.env.SetMFA(m.ten.ID, false) // the policy asks for the password only now

		b := m.env.NewBrowser()
		p := m.accountWithPassword(t, b)
		href := strings.ReplaceAll(p.Find("app-reauth", "href"), "&amp;", "&")
		if !strings.Contains(href, "fresh=1") || strings.Contains(p.Body, `action="`+appBeginAction+`"`) ||
			!strings.Contains(p.Body, "Sign in again to replace your authenticator app") {
			t.Fatalf("a password-only sign-in may replace the app (link %q):\n%s", href, p.Body)
		}
		for _, action := range []string{appBeginAction, appConfirmAction} {
			q := b.Post(m.env.URL+action, url.Values{"_csrf": {p.CSRFToken()}, "code": {apptest.Code(t, secret, m.env.Clock.Now())}})
			if q.Status != 403 || !strings.Contains(q.Body, "sign in again with your second factor") {
				t.Fatalf("password-only post to %s: %d\n%s", action, q.Status, q.Body)
			}
		}

		// The link signs in again with the code and comes back, where the app can be replaced; eleven
		// minutes later that sign-in is stale.
		p = b.Get(m.env.URL + href)
		p = b.Submit(p, "/login/password", map[string]string{"email": m.user.Email, "password": pw})
		m.env.Clock.Advance(30 * time.Second)
		p = b.Submit(p, "/login/otp", map[string]string{"code": apptest.Code(t, secret, m.env.Clock.Now())})
		if p.URL.Path != "/admin/account" {
			t.Fatalf("after the fresh sign-in: %s", p.URL)
		}
		p, newSecret := beginApp(t, b, p)
		m.env.Clock.Advance(11 * time.Minute)
		q := b.Submit(p, appConfirmAction, map[string]string{"code": apptest.Code(t, newSecret, m.env.Clock.Now())})
		if q.Status != 403 || strings.Contains(q.Body, `action="`+appConfirmAction+`"`) || authenticatorID(t, st, m.user.ID) != oldID {
			t.Fatalf("stale sign-in: %d\n%s", q.Status, q.Body)
		}
	})
}

// The secret belongs to the session that began it: another session of the same user neither sees it
// nor confirms it (with no secret of its own, or with its own), and the first session still can; the
// other session, signed in with the old app, then ends.
func TestAccountAppOtherSession(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMFAEnv(t, st, true)
		secret, _, _, _ := m.enrol(t, m.env.NewBrowser())
		oldID := authenticatorID(t, st, m.user.ID)
		b1, b2 := m.env.NewBrowser(), m.env.NewBrowser()
		p1, s1 := beginApp(t, b1, m.accountWithCode(t, b1, secret))
		p2 := m.accountWithCode(t, b2, secret)
		if strings.Contains(p2.Body, "otpauth://") {
			t.Fatal("another session sees the secret")
		}
		code1 := apptest.Code(t, s1, m.env.Clock.Now())
		q := b2.Post(m.env.URL+appConfirmAction, url.Values{"_csrf": {p2.CSRFToken()}, "code": {code1}})
		if q.Status != 400 || authenticatorID(t, st, m.user.ID) != oldID {
			t.Fatalf("session 1's code in session 2 (no secret): %d\n%s", q.Status, q.Body)
		}
		p2, s2 := beginApp(t, b2, p2)
		if string(s2) == string(s1) {
			t.Fatal("two sessions were shown one secret")
		}
		if q := b2.Submit(p2, appConfirmAction, map[string]string{"code": code1}); q.Status != 401 || authenticatorID(t, st, m.user.ID) != oldID {
			t.Fatalf("session 1's code in session 2 (its own secret): %d", q.Status)
		}
		if again := apptest.EnrolmentSecret(t, b1.Get(m.env.URL+"/admin/account")); string(again) != string(s1) {
			t.Fatal("session 2 replaced session 1's secret")
		}
		p1 = b1.Submit(p1, appConfirmAction, map[string]string{"code": code1})
		if p1.Status != 200 || authenticatorID(t, st, m.user.ID) == oldID {
			t.Fatalf("session 1's own code: %d\n%s", p1.Status, p1.Body)
		}
		if m.signedIn(t, b2) {
			t.Error("session 2, signed in with the replaced app, survived")
		}
	})
}

// The confirming code works once: posting it again finds no secret, and it does not sign in. Wrong
// codes count on the second-factor throttle, which then refuses the right code too.
func TestAccountAppReplayAndThrottle(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMFAEnv(t, st, true)
		secret, _, _, _ := m.enrol(t, m.env.NewBrowser())
		b := m.env.NewBrowser()
		p, s2 := beginApp(t, b, m.accountWithCode(t, b, secret))
		code := apptest.Code(t, s2, m.env.Clock.Now())
		if q := b.Submit(p, appConfirmAction, map[string]string{"code": code}); q.Status != 200 {
			t.Fatalf("confirming: %d\n%s", q.Status, q.Body)
		}
		id := authenticatorID(t, st, m.user.ID)
		if q := b.Submit(p, appConfirmAction, map[string]string{"code": code}); q.Status != 400 || authenticatorID(t, st, m.user.ID) != id {
			t.Fatalf("the confirming code again: %d\n%s", q.Status, q.Body)
		}
		if _, q := m.codeSignIn(t, code); q.Status != 401 || q.Redirect != nil {
			t.Fatalf("the confirming code signed in: %d", q.Status)
		}

		p, s3 := beginApp(t, b, b.Get(m.env.URL+"/admin/account"))
		right := apptest.Code(t, s3, m.env.Clock.Now())
		wrong := "000000"
		if wrong == right {
			wrong = "111111"
		}
		var statuses []int
		for range 8 {
			q := b.Submit(p, appConfirmAction, map[string]string{"code": wrong})
			statuses = append(statuses, q.Status)
			if q.Status == 429 {
				if !strings.Contains(q.Body, "Too many wrong codes") {
					t.Errorf("throttled page:\n%s", q.Body)
				}
				break
			}
		}
		if statuses[0] != 401 || statuses[len(statuses)-1] != 429 {
			t.Fatalf("wrong codes answered %v, want 401 then 429", statuses)
		}
		if q := b.Submit(p, appConfirmAction, map[string]string{"code": right}); q.Status != 429 || authenticatorID(t, st, m.user.ID) != id {
			t.Fatalf("the right code while throttled: %d", q.Status)
		}
	})
}

// A disabled user's session no longer opens the page, so nothing is activated; an admin's enrolment
// code (after a reset) leaves the user without a factor, whom the page sends through a sign-in that
// asks for the code instead of setting up an app here.
func TestAccountAppRefusals(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		m := newMFAEnv(t, st, true)
		secret, _, _, _ := m.enrol(t, m.env.NewBrowser())
		oldID := authenticatorID(t, st, m.user.ID)
		b := m.env.NewBrowser()
		p, s2 := beginApp(t, b, m.accountWithCode(t, b, secret))
		if _, err := st.UpdateUser(ctx, m.user.ID, func(u *storage.User) error { u.Disabled = true; return nil }); err != nil {
			t.Fatal(err)
		}
		if q := b.Submit(p, appConfirmAction, map[string]string{"code": apptest.Code(t, s2, m.env.Clock.Now())}); q.URL.Path == "/admin/account" ||
			authenticatorID(t, st, m.user.ID) != oldID {
			t.Fatalf("a disabled user: %s %d", q.URL, q.Status)
		}
		if _, err := st.UpdateUser(ctx, m.user.ID, func(u *storage.User) error { u.Disabled = false; return nil }); err != nil {
			t.Fatal(err)
		}

		if err := st.ResetMFA(ctx, m.user.ID, &storage.EnrolmentCode{TenantID: m.ten.ID, CodeHash: "h", CreatedAt: m.env.Clock.Now(),
			ExpiresAt: m.env.Clock.Now().Add(time.Hour)}, storage.AuditEvent{TenantID: m.ten.ID, Action: "mfa.reset", CreatedAt: m.env.Clock.Now()}); err != nil {
			t.Fatal(err)
		}
		m.env.SetMFA(m.ten.ID, false)
		b = m.env.NewBrowser()
		p = m.accountWithPassword(t, b)
		if strings.Contains(p.Body, `action="`+appBeginAction+`"`) || p.Find("setup-app", "href") == "" {
			t.Fatalf("enrolment code pending:\n%s", p.Body)
		}
		if q := b.Post(m.env.URL+appBeginAction, url.Values{"_csrf": {p.CSRFToken()}}); q.Status < 400 {
			t.Fatalf("beginning with an enrolment code pending: %d", q.Status)
		}
		if _, err := st.EnrolmentCodeByUser(ctx, m.user.ID); err != nil {
			t.Errorf("the enrolment code after a refused set-up: %v, want it kept", err)
		}
	})
}

package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// The sign-in pages' CSRF tokens are bound to the browser as well as to the sign-in: a page that names
// another browser's sign-in (the sign-out page takes any query) hands out nothing that forges the
// victim's forms.
func TestAuditCSRFTokenOracleOnLogoutPage(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMFAEnv(t, st, true)
		victim := m.env.NewBrowser()
		p := victim.Get(m.rp.Start().URL)
		id := p.URL.Query().Get("authRequestID")
		victimToken := p.Form(t, "/login/password").Fields.Get("_csrf")
		attacker := m.env.NewBrowser()
		attacker.Get(m.rp.Start().URL)
		q := attacker.Get(m.env.URL + "/login/logout?authRequestID=" + url.QueryEscape(id))
		got := q.Form(t, "/login/logout").Fields.Get("_csrf")
		if got == victimToken {
			t.Errorf("the attacker's browser was handed the CSRF token of the victim's sign-in %s", id)
		}
		// The forged password form, posted from the victim's browser (its cookies) with what the
		// attacker got: refused by the CSRF check.
		r := victim.Post(m.env.URL+"/login/password", url.Values{"authRequestID": {id}, "email": {m.user.Email},
			"password": {pw}, "_csrf": {got}})
		if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "This form has expired") {
			t.Errorf("the forged password form with the victim's cookies: %d %s", r.Status, r.URL)
		}
	})
}

// A token that browser A was given for sign-in X is refused (403) when browser B posts it with B's own
// cookies for X: both when B holds X (A planted its login cookie in B and sent B the link of X, the
// binding fixation of TestLoginBindingCannotBeFixed, here used to sign the victim in as the attacker)
// and when it does not.
func TestSignInCSRFTokenOfAnotherBrowserIsRefused(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMFAEnv(t, st, false)
		eve := m.env.User(m.ten.ID, "eve@acme.test", pw, storage.RoleMember)
		base, _ := url.Parse(m.env.URL)

		attacker := m.env.NewBrowser()
		a := m.rp.Start()
		ap := attacker.Get(a.URL)
		id := ap.URL.Query().Get("authRequestID")
		attackerToken := ap.Form(t, "/login/password").Fields.Get("_csrf")
		if attackerToken == "" {
			t.Fatal("the attacker's sign-in page has no token")
		}
		forge := func(b *apptest.Browser) *apptest.Page {
			return b.Post(m.env.URL+"/login/password", url.Values{"authRequestID": {id}, "email": {eve.Email}, "password": {pw},
				"_csrf": {attackerToken}})
		}
		wantRefused := func(what string, q *apptest.Page) {
			t.Helper()
			if q.Status != http.StatusForbidden || q.Redirect != nil || !strings.Contains(q.Body, "This form has expired") {
				t.Errorf("%s: %d %s redirect %v", what, q.Status, q.URL, q.Redirect)
			}
		}

		// B with a sign-in of its own, posting to X: nothing.
		other := m.env.NewBrowser()
		other.Get(m.rp.Start().URL)
		wantRefused("another browser posting to the sign-in", forge(other))

		// B holding X: the attacker's token does not sign the victim in as the attacker.
		victim := m.env.NewBrowser()
		for _, ck := range attacker.Jar.Cookies(base) {
			if ck.Name == "portcullis_login" {
				victim.Jar.SetCookies(base, []*http.Cookie{{Name: ck.Name, Value: ck.Value, Path: "/"}})
			}
		}
		vp := victim.Get(m.env.URL + "/login/?authRequestID=" + url.QueryEscape(id))
		if vp.Status != http.StatusOK {
			t.Fatalf("the victim on the sign-in page: %d", vp.Status)
		}
		if tok := vp.Form(t, "/login/password").Fields.Get("_csrf"); tok == "" || tok == attackerToken {
			t.Fatalf("the victim's page has the token %q (the attacker's: %q)", tok, attackerToken)
		}
		wantRefused("the attacker's token with the victim's cookies", forge(victim))
		if apptest.AppError(victim.Get(m.rp.Start(prompt("none")).URL)) != "login_required" {
			t.Fatal("the victim's browser was signed in")
		}
		// The victim's own form signs the victim in.
		vp = victim.Submit(vp, "/login/password", map[string]string{"email": m.user.Email, "password": pw})
		if vp.Redirect == nil || vp.Redirect.Query().Get("code") == "" {
			t.Fatalf("the victim's own sign-in: %d %s", vp.Status, vp.URL)
		}
	})
}

// The sign-in forms work as before: on a browser's first visit (no cookie yet: the binding and the
// browser's secret come in the same answer as the page), for a browser that lost its secret in the
// middle of a sign-in (a new one on its next page), and the sign-out page posts whatever its query
// names.
func TestSignInCSRFNormalFlows(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMFAEnv(t, st, true)
		base, _ := url.Parse(m.env.URL)
		cookie := func(b *apptest.Browser, name string) string {
			for _, ck := range b.Jar.Cookies(base) {
				if ck.Name == name {
					return ck.Value
				}
			}
			return ""
		}

		var key []byte // the user's authenticator, enrolled by the first case
		t.Run("first visit, enrolment, then the code", func(t *testing.T) {
			b := m.env.NewBrowser()
			a := m.rp.Start()
			p := b.Get(a.URL)
			if p.Status != http.StatusOK || cookie(b, "portcullis_login") == "" || cookie(b, "portcullis_browser") == "" ||
				p.Form(t, "/login/password").Fields.Get("_csrf") == "" {
				t.Fatalf("first sign-in page: %d, cookies login %q browser %q", p.Status, cookie(b, "portcullis_login"), cookie(b, "portcullis_browser"))
			}
			secretBefore := cookie(b, "portcullis_browser")
			p = b.Submit(p, "/login/password", map[string]string{"email": m.user.Email, "password": pw})
			if !strings.HasPrefix(p.URL.Path, "/login/enrol") {
				t.Fatalf("after the password: %d %s", p.Status, p.URL)
			}
			key = apptest.EnrolmentSecret(t, p)
			p = b.Submit(p, "/login/enrol", map[string]string{"code": "000000"}) // a wrong code: the page again, its form works
			if p.Status != http.StatusUnauthorized {
				t.Fatalf("a wrong code: %d", p.Status)
			}
			p = b.Submit(p, "/login/enrol", map[string]string{"code": apptest.Code(t, key, m.env.Clock.Now())})
			if p.Status != http.StatusOK {
				t.Fatalf("enrolment: %d %s", p.Status, p.URL)
			}
			if _, err := m.rp.Exchange(a.Code(t, b.Get(continueURL(t, p))), a); err != nil {
				t.Fatal(err)
			}
			if cookie(b, "portcullis_browser") != secretBefore {
				t.Error("the browser's secret changed within its sign-in")
			}

			// The next sign-in asks for the code; a wrong one first.
			m.env.Clock.Advance(31 * time.Second) // a new code
			a = m.rp.Start(prompt("login"))
			p = b.Submit(b.Get(a.URL), "/login/password", map[string]string{"email": m.user.Email, "password": pw})
			if !strings.HasPrefix(p.URL.Path, "/login/otp") {
				t.Fatalf("after the password: %d %s", p.Status, p.URL)
			}
			if q := b.Submit(p, "/login/otp", map[string]string{"code": "000000"}); q.Status != http.StatusUnauthorized {
				t.Fatalf("a wrong code: %d", q.Status)
			}
			p = b.Submit(p, "/login/otp", map[string]string{"code": apptest.Code(t, key, m.env.Clock.Now())})
			if _, err := m.rp.Exchange(a.Code(t, p), a); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("a browser that lost its secret", func(t *testing.T) {
			b := m.env.NewBrowser()
			_, p := m.password(t, b)
			if !strings.HasPrefix(p.URL.Path, "/login/otp") {
				t.Fatalf("after the password: %d %s", p.Status, p.URL)
			}
			b.Jar.SetCookies(base, []*http.Cookie{{Name: "portcullis_browser", Value: "", Path: "/", MaxAge: -1}})
			if q := b.Submit(p, "/login/otp", map[string]string{"code": "000000"}); q.Status != http.StatusForbidden {
				t.Fatalf("a form without the browser's secret: %d", q.Status)
			}
			p = b.Get(p.URL.String()) // reload
			if cookie(b, "portcullis_browser") == "" {
				t.Fatal("the reloaded page gave the browser no secret")
			}
			if q := b.Submit(p, "/login/otp", map[string]string{"code": "000000"}); q.Status != http.StatusUnauthorized {
				t.Fatalf("the reloaded page's form: %d", q.Status)
			}
		})

		t.Run("sign-out page that names a sign-in", func(t *testing.T) {
			b := m.env.NewBrowser()
			a, p := m.password(t, b)
			m.env.Clock.Advance(31 * time.Second) // a new code
			p = b.Submit(p, "/login/otp", map[string]string{"code": apptest.Code(t, key, m.env.Clock.Now())})
			if _, err := m.rp.Exchange(a.Code(t, p), a); err != nil {
				t.Fatal(err)
			}
			p = b.Get(m.rp.Start(prompt("login")).URL) // a sign-in in flight
			q := b.Get(m.env.URL + "/login/logout?authRequestID=" + url.QueryEscape(p.URL.Query().Get("authRequestID")))
			q = b.Submit(q, "/login/logout", nil)
			if q.Status != http.StatusOK || !strings.HasPrefix(q.URL.Path, "/login/logged-out") {
				t.Fatalf("sign-out: %d %s", q.Status, q.URL)
			}
			if apptest.AppError(b.Get(m.rp.Start(prompt("none")).URL)) != "login_required" {
				t.Error("the session survived the sign-out")
			}
		})
	})
}

package app_test

import (
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/app"
	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// The "read" attack on enrolment: a password thief posts a wrong code to the enrolment page of its own
// sign-in while the victim is enrolling. It must see its own secret only, never the victim's, and the
// victim's enrolment must go through; afterwards the thief is asked for a code it cannot make.
func TestEnrolmentSecretCannotBeReadByAnotherSignIn(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMFAEnv(t, st, true)
		victim := m.env.NewBrowser()
		va, vp := m.password(t, victim)
		victimSecret := apptest.EnrolmentSecret(t, vp)

		thief := m.env.NewBrowser()
		_, tp := m.password(t, thief)
		var seen [][]byte
		seen = append(seen, apptest.EnrolmentSecret(t, tp))
		tp = thief.Submit(tp, "/login/enrol", map[string]string{"code": "000000"})
		if tp.Status != http.StatusUnauthorized {
			t.Fatalf("the thief's wrong code: %d", tp.Status)
		}
		seen = append(seen, apptest.EnrolmentSecret(t, tp))
		// The thief's own request id with a code it made up, and the victim's request id: nothing.
		victimReq := vp.URL.Query().Get("authRequestID")
		q := thief.Post(m.env.URL+"/login/enrol", url.Values{"authRequestID": {victimReq}, "code": {"000000"}, "_csrf": {tp.CSRFToken()}})
		if q.Status != http.StatusForbidden || strings.Contains(q.Body, "otpauth") {
			t.Fatalf("the thief posting to the victim's sign-in: %d", q.Status)
		}
		for _, s := range seen {
			if bytes.Equal(s, victimSecret) {
				t.Fatal("the thief was shown the victim's pending secret")
			}
		}

		// The victim confirms the secret it was shown and gets tokens with MFA.
		vp = victim.Submit(vp, "/login/enrol", map[string]string{"code": apptest.Code(t, victimSecret, m.env.Clock.Now())})
		if vp.Status != http.StatusOK || len(recoveryCodes(vp.Body)) != 10 {
			t.Fatalf("the victim's enrolment: %d %s", vp.Status, vp.URL)
		}
		tok, err := m.rp.Exchange(va.Code(t, victim.Get(continueURL(t, vp))), va)
		if err != nil {
			t.Fatal(err)
		}
		if c := m.rp.IDToken(tok, va.Nonce); !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) {
			t.Errorf("the victim's amr %v", c.AMR)
		}
		a, err := st.AuthenticatorByUser(t.Context(), m.user.ID)
		if err != nil {
			t.Fatal(err)
		}
		if a.EnrolledAddress == "" || a.EnrolledClientID != m.rp.OAuth.ClientID {
			t.Errorf("the enrolment's client and address were not recorded: %+v", a)
		}

		// The thief's secret can no longer become active, and the thief's next sign-in asks for a code.
		tp = thief.Submit(tp, "/login/enrol", map[string]string{"code": apptest.Code(t, seen[0], m.env.Clock.Now())})
		if tp.Redirect != nil || !strings.HasPrefix(tp.URL.Path, "/login/otp") {
			t.Fatalf("the thief confirming its own secret after the victim: %d %s %v", tp.Status, tp.URL, tp.Redirect)
		}
		tp = thief.Submit(tp, "/login/otp", map[string]string{"code": apptest.Code(t, seen[0], m.env.Clock.Now())})
		if tp.Status != http.StatusUnauthorized || tp.Redirect != nil {
			t.Fatalf("the thief's secret signed in: %d %v", tp.Status, tp.Redirect)
		}
		if _, err := st.AuthenticatorByUser(t.Context(), m.user.ID); err != nil {
			t.Fatal(err)
		}
	})
}

// The "plant" attack on enrolment: a password thief opens the enrolment page of its own sign-in while
// the victim is enrolling. The victim's secret must stay as shown, and the victim's code must work.
func TestEnrolmentSecretCannotBeReplacedByAnotherSignIn(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMFAEnv(t, st, true)
		victim := m.env.NewBrowser()
		va, vp := m.password(t, victim)
		victimSecret := apptest.EnrolmentSecret(t, vp)

		thief := m.env.NewBrowser()
		_, tp := m.password(t, thief)
		for range 3 {
			tp = thief.Get(m.env.URL + "/login/enrol?authRequestID=" + url.QueryEscape(tp.URL.Query().Get("authRequestID")))
			if bytes.Equal(apptest.EnrolmentSecret(t, tp), victimSecret) {
				t.Fatal("the thief was shown the victim's secret")
			}
		}
		// The victim's page, reloaded, still shows the secret it scanned; its code confirms it.
		vp = victim.Get(vp.URL.String())
		if !bytes.Equal(apptest.EnrolmentSecret(t, vp), victimSecret) {
			t.Fatal("the victim's pending secret was replaced")
		}
		vp = victim.Submit(vp, "/login/enrol", map[string]string{"code": apptest.Code(t, victimSecret, m.env.Clock.Now())})
		if vp.Status != http.StatusOK {
			t.Fatalf("the victim's code after the thief's visits: %d\n%s", vp.Status, vp.Body)
		}
		if _, err := m.rp.Exchange(va.Code(t, victim.Get(continueURL(t, vp))), va); err != nil {
			t.Fatal(err)
		}
	})
}

// Sign-in binding fixation: an attacker who planted its own login cookie value in the victim's browser
// and sent the victim the link of a sign-in it started must not be able to take the code for it.
func TestLoginBindingCannotBeFixed(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMFAEnv(t, st, true)
		attacker := m.env.NewBrowser()
		a := m.rp.Start()
		ap := attacker.Get(a.URL) // the sign-in page of the attacker's own sign-in
		req := ap.URL.Query().Get("authRequestID")
		base, _ := url.Parse(m.env.URL)
		var planted *http.Cookie
		for _, ck := range attacker.Jar.Cookies(base) {
			if ck.Name == "portcullis_login" {
				planted = ck
			}
		}
		if planted == nil {
			t.Fatal("the attacker's browser has no login cookie")
		}
		victim := m.env.NewBrowser()
		victim.Jar.SetCookies(base, []*http.Cookie{{Name: planted.Name, Value: planted.Value, Path: "/"}})

		// The victim follows the link, signs in and enrols; it reads its recovery codes.
		vp := victim.Get(m.env.URL + "/login/?authRequestID=" + url.QueryEscape(req))
		vp = victim.Submit(vp, "/login/password", map[string]string{"email": m.user.Email, "password": pw})
		secret := apptest.EnrolmentSecret(t, vp)
		vp = victim.Submit(vp, "/login/enrol", map[string]string{"code": apptest.Code(t, secret, m.env.Clock.Now())})
		if vp.Status != http.StatusOK {
			t.Fatalf("the victim's enrolment: %d", vp.Status)
		}
		for _, ck := range victim.Jar.Cookies(base) {
			if ck.Name == "portcullis_login" && ck.Value == planted.Value {
				t.Fatal("the victim's browser still holds the planted binding")
			}
		}
		// Meanwhile the attacker calls the callback with the planted value: no code.
		cb := attacker.Get(m.env.URL + "/authorize/callback?id=" + url.QueryEscape(req))
		if cb.Redirect != nil || cb.Status != http.StatusForbidden {
			t.Fatalf("the attacker's callback: %d redirect %v", cb.Status, cb.Redirect)
		}
		// The attacker cannot go on with the sign-in either.
		if p := attacker.Get(m.env.URL + "/login/otp?authRequestID=" + url.QueryEscape(req)); p.Status != http.StatusForbidden {
			t.Fatalf("the attacker's next step: %d", p.Status)
		}
		// The victim's browser gets the code.
		if code := a.Code(t, victim.Get(continueURL(t, vp))); code == "" {
			t.Fatal("no code for the victim")
		}
	})
}

// The binding is renewed at each step, and a browser's other sign-ins in flight move with it: a sign-in
// open in a second tab keeps working.
func TestLoginBindingRenewedAtEachStep(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMFAEnv(t, st, false)
		b := m.env.NewBrowser()
		base, _ := url.Parse(m.env.URL)
		value := func() string {
			for _, ck := range b.Jar.Cookies(base) {
				if ck.Name == "portcullis_login" {
					return ck.Value
				}
			}
			return ""
		}
		a1 := m.rp.Start()
		p1 := b.Get(a1.URL)
		v1 := value()
		a2 := m.rp.Start()
		p2 := b.Get(a2.URL) // a second tab
		v2 := value()
		if v1 == "" || v2 == v1 {
			t.Fatalf("the binding was not renewed by a new sign-in: %q %q", v1, v2)
		}
		// The first tab, whose page was rendered before, still signs in.
		p1 = b.Submit(p1, "/login/password", map[string]string{"email": m.user.Email, "password": pw})
		if value() == v2 {
			t.Error("the binding was not renewed by the password step")
		}
		if _, err := m.rp.Exchange(a1.Code(t, p1), a1); err != nil {
			t.Fatal(err)
		}
		p2 = b.Submit(p2, "/login/password", map[string]string{"email": m.user.Email, "password": pw})
		if _, err := m.rp.Exchange(a2.Code(t, p2), a2); err != nil {
			t.Fatal(err)
		}
	})
}

// Under an https issuer every cookie is a __Host- cookie: Secure, no Domain, path /.
func TestCookiesUseHostPrefixUnderHTTPS(t *testing.T) {
	st := storagetest.NewSQLite(t)
	env := apptest.New(t, st, func(c *app.Config) { c.Issuer = "https://127.0.0.1" })
	ten := env.Tenant("Acme Inc")
	env.User(ten.ID, "ann@acme.test", pw, storage.RoleMember)
	c, _ := env.Client(ten.ID, apptest.ClientOptions{})
	u := env.URL + "/authorize?" + url.Values{"client_id": {c.ID}, "redirect_uri": {c.RedirectURIs[0]}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"s"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
		"code_challenge_method": {"S256"}}.Encode()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Path != "/login/" {
		t.Fatalf("authorize redirected to %q (%d)", resp.Header.Get("Location"), resp.StatusCode)
	}
	resp, err = client.Get(env.URL + loc.RequestURI())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if len(cookies) == 0 {
		t.Fatal("no cookie set by the sign-in page")
	}
	for _, ck := range cookies {
		if !strings.HasPrefix(ck.Name, "__Host-") || !ck.Secure || ck.Domain != "" || ck.Path != "/" || !ck.HttpOnly {
			t.Errorf("cookie %s: Secure %v Domain %q Path %q HttpOnly %v; want a __Host- cookie", ck.Name, ck.Secure, ck.Domain, ck.Path, ck.HttpOnly)
		}
	}
}

// CSRF tokens are tied to the session: a token and cookie planted by an attacker (the old double-submit
// scheme), another browser's token, or a sign-in page's token cannot turn the tenant's MFA off.
func TestCSRFTokensAreTiedToTheSession(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		pe := newPagesEnv(t, st)
		env := pe.env
		b := env.NewBrowser()
		wantSettings(t, pe.signInToSettings(t, b, pe.admin.Email))
		env.SetMFA(pe.ten.ID, true)
		_, p := enrolOn(t, env, b, b.Get(env.URL+settingsPath))
		wantSettings(t, p)
		base, _ := url.Parse(env.URL)
		b.Jar.SetCookies(base, []*http.Cookie{{Name: "portcullis_csrf", Value: "planted-token-value-0123456789abcdef", Path: "/"}})

		other := env.NewBrowser()
		otherToken := other.Get(env.URL + "/login/logout").CSRFToken()
		signInToken := env.NewBrowser().Get(pe.appRP.Start().URL).CSRFToken()
		for name, tok := range map[string]string{"planted": "planted-token-value-0123456789abcdef", "another browser's": otherToken,
			"a sign-in page's": signInToken, "none": ""} {
			q := b.Post(env.URL+"/admin/settings/security/mfa", url.Values{"enabled": {"false"}, "_csrf": {tok}})
			if q.Status != http.StatusForbidden {
				t.Errorf("%s token: %d, want 403", name, q.Status)
			}
		}
		if ten, err := st.TenantByID(t.Context(), pe.ten.ID); err != nil || !ten.MFAEnabled {
			t.Fatalf("the policy was changed by a forged form: %v", err)
		}
		// The page's own token works.
		confirm := b.Get(env.URL + "/admin/settings/security/mfa/confirm?enabled=false")
		if q := b.Submit(confirm, "/admin/settings/security/mfa", nil); q.Status != http.StatusOK || !strings.Contains(q.Body, "is off") {
			t.Fatalf("the admin's own form: %d", q.Status)
		}
	})
}

// Posting a code for a user without an authenticator goes to the enrolment, not a server error.
func TestOTPPostWithoutAuthenticatorGoesToEnrolment(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMFAEnv(t, st, true)
		b := m.env.NewBrowser()
		_, p := m.password(t, b)
		if !strings.HasPrefix(p.URL.Path, "/login/enrol") {
			t.Fatalf("after the password: %s", p.URL)
		}
		secret := apptest.EnrolmentSecret(t, p)
		q := b.Post(m.env.URL+"/login/otp", url.Values{"authRequestID": {p.URL.Query().Get("authRequestID")}, "code": {"123456"},
			"_csrf": {p.CSRFToken()}})
		if q.Status != http.StatusOK || !strings.HasPrefix(q.URL.Path, "/login/enrol") || !bytes.Equal(apptest.EnrolmentSecret(t, q), secret) {
			t.Fatalf("POST /login/otp without an authenticator: %d %s", q.Status, q.URL)
		}
	})
}

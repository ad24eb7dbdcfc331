package app_test

import (
	"bytes"
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

const pw = "correct horse battery"

type mfaEnv struct {
	env      *apptest.Env
	ten      storage.Tenant
	user     storage.User
	rp       *apptest.RP
	enrolled string // the code that confirmed the last enrolment
}

func newMFAEnv(t *testing.T, st *storage.Store, policy bool) *mfaEnv {
	env := apptest.New(t, st)
	ten := env.Tenant("Acme Inc")
	u := env.User(ten.ID, "ann@acme.test", pw, storage.RoleMember)
	c, sec := env.Client(ten.ID, apptest.ClientOptions{})
	env.SetMFA(ten.ID, policy)
	return &mfaEnv{env: env, ten: ten, user: u, rp: env.RP(c, sec)}
}

// password runs the first step and returns the page it leads to.
func (m *mfaEnv) password(t *testing.T, b *apptest.Browser, opts ...oauth2.AuthCodeOption) (*apptest.Attempt, *apptest.Page) {
	t.Helper()
	a := m.rp.Start(opts...)
	p := b.Get(a.URL)
	return a, b.Submit(p, "/login/password", map[string]string{"email": m.user.Email, "password": pw})
}

// enrol signs in for the first time under the policy: password, enrolment, recovery codes.
func (m *mfaEnv) enrol(t *testing.T, b *apptest.Browser) (secret []byte, codes []string, a *apptest.Attempt, last *apptest.Page) {
	t.Helper()
	a, p := m.password(t, b)
	if !strings.HasPrefix(p.URL.Path, "/login/enrol") {
		t.Fatalf("after the password: %s (%d), want the enrolment page", p.URL, p.Status)
	}
	secret = apptest.EnrolmentSecret(t, p)
	m.enrolled = apptest.Code(t, secret, m.env.Clock.Now())
	p = b.Submit(p, "/login/enrol", map[string]string{"code": m.enrolled})
	if p.Status != 200 || !strings.Contains(p.Body, "recovery") {
		t.Fatalf("after confirming: %d %s\n%s", p.Status, p.URL, p.Body)
	}
	codes = recoveryCodes(p.Body)
	if len(codes) != 10 {
		t.Fatalf("got %d recovery codes: %v", len(codes), codes)
	}
	cont := continueURL(t, p)
	return secret, codes, a, b.Get(cont)
}

func recoveryCodes(body string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(body, func(r rune) bool { return !(r == '-' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }) {
		if len(f) == 14 && strings.Count(f, "-") == 2 && f[4] == '-' && f[9] == '-' {
			out = append(out, f)
		}
	}
	return out
}

func continueURL(t *testing.T, p *apptest.Page) string {
	t.Helper()
	i := strings.Index(p.Body, "/authorize/callback?id=")
	if i < 0 {
		t.Fatalf("no continue link:\n%s", p.Body)
	}
	j := strings.IndexAny(p.Body[i:], `"'`)
	u, _ := p.URL.Parse(strings.ReplaceAll(p.Body[i:i+j], "&amp;", "&"))
	return u.String()
}

func TestMFAPolicyOffIsPasswordOnly(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMFAEnv(t, st, false)
		a, p := m.password(t, m.env.NewBrowser())
		tok, err := m.rp.Exchange(a.Code(t, p), a)
		if err != nil {
			t.Fatal(err)
		}
		if c := m.rp.IDToken(tok, a.Nonce); !slices.Equal(c.AMR, []string{"pwd"}) {
			t.Errorf("amr = %v", c.AMR)
		}
	})
}

func TestMFAEnrolThenCode(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMFAEnv(t, st, true)
		b := m.env.NewBrowser()
		secret, codes, a, p := m.enrol(t, b)
		tok, err := m.rp.Exchange(a.Code(t, p), a)
		if err != nil {
			t.Fatal(err)
		}
		c := m.rp.IDToken(tok, a.Nonce)
		if !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) || c.ACR != "urn:portcullis:acr:mfa" {
			t.Errorf("amr %v acr %q", c.AMR, c.ACR)
		}

		// A new browser: password, then the code page (one code field for password managers).
		b2 := m.env.NewBrowser()
		// The code used at enrolment is spent: within the same step it is refused.
		a2, p := m.password(t, b2)
		if !strings.HasPrefix(p.URL.Path, "/login/otp") {
			t.Fatalf("want the code page, got %s", p.URL)
		}
		if n := strings.Count(p.Body, `name="code"`); n != 1 || !strings.Contains(p.Body, `autocomplete="one-time-code"`) {
			t.Errorf("code page has %d code fields / autocomplete missing", n)
		}
		p = b2.Submit(p, "/login/otp", map[string]string{"code": m.enrolled})
		if p.Status != 401 || p.Redirect != nil {
			t.Fatalf("replayed enrolment code: %d redirect %v", p.Status, p.Redirect)
		}
		if !strings.Contains(p.Body, "clock") {
			t.Errorf("the wrong-code message should mention the clock")
		}
		// A wrong code is refused.
		p = b2.Submit(p, "/login/otp", map[string]string{"code": "000000"})
		if p.Status != 401 {
			t.Fatalf("wrong code: %d", p.Status)
		}
		// The next step's code works, once.
		m.env.Clock.Advance(30 * time.Second)
		code := apptest.Code(t, secret, m.env.Clock.Now())
		p = b2.Submit(p, "/login/otp", map[string]string{"code": code})
		tok, err = m.rp.Exchange(a2.Code(t, p), a2)
		if err != nil {
			t.Fatal(err)
		}
		if c := m.rp.IDToken(tok, a2.Nonce); !slices.Contains(c.AMR, "otp") {
			t.Errorf("amr %v", c.AMR)
		}
		bAgain := m.env.NewBrowser()
		_, p = m.password(t, bAgain)
		p = bAgain.Submit(p, "/login/otp", map[string]string{"code": code})
		if p.Status != 401 || p.Redirect != nil {
			t.Fatalf("a code worked twice: %d %v", p.Status, p.Redirect)
		}

		// Recovery code, single use.
		b3 := m.env.NewBrowser()
		a3, p := m.password(t, b3)
		p = b3.Get(m.env.URL + "/login/recovery?authRequestID=" + url.QueryEscape(p.URL.Query().Get("authRequestID")))
		p = b3.Submit(p, "/login/recovery", map[string]string{"code": strings.ToUpper(codes[0])})
		tok, err = m.rp.Exchange(a3.Code(t, p), a3)
		if err != nil {
			t.Fatal(err)
		}
		if c := m.rp.IDToken(tok, a3.Nonce); !slices.Equal(c.AMR, []string{"pwd", "kba", "mfa"}) {
			t.Errorf("recovery amr %v", c.AMR)
		}
		b4 := m.env.NewBrowser()
		_, p = m.password(t, b4)
		p = b4.Get(m.env.URL + "/login/recovery?authRequestID=" + url.QueryEscape(p.URL.Query().Get("authRequestID")))
		p = b4.Submit(p, "/login/recovery", map[string]string{"code": codes[0]})
		if p.Status != 401 {
			t.Fatalf("a recovery code worked twice: %d", p.Status)
		}
	})
}

// Every way we know to skip the second step, each of which must fail.
func TestMFACannotBeSkipped(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMFAEnv(t, st, true)
		ctx := context.Background()

		t.Run("callback after the password only", func(t *testing.T) {
			b := m.env.NewBrowser()
			_, p := m.password(t, b)
			id := p.URL.Query().Get("authRequestID")
			p = b.Get(m.env.URL + "/authorize/callback?id=" + id)
			if p.Redirect == nil || p.Redirect.Query().Get("code") != "" {
				t.Fatalf("callback before the second factor: %d %v", p.Status, p.Redirect)
			}
		})

		t.Run("unconfirmed enrolment in a second tab", func(t *testing.T) {
			b := m.env.NewBrowser()
			_, p := m.password(t, b)
			b.Get(p.URL.String()) // second tab
			au, err := st.AuthenticatorByUser(ctx, m.user.ID)
			if err != nil || au.State != storage.AuthenticatorPending {
				t.Fatalf("authenticator %+v %v", au, err)
			}
			p = b.Get(m.env.URL + "/authorize/callback?id=" + p.URL.Query().Get("authRequestID"))
			if p.Redirect == nil || p.Redirect.Query().Get("code") != "" {
				t.Fatalf("pending authenticator let the request through: %v", p.Redirect)
			}
		})

		t.Run("another browser cannot continue the sign-in", func(t *testing.T) {
			b := m.env.NewBrowser()
			_, p := m.password(t, b)
			other := m.env.NewBrowser()
			if q := other.Get(p.URL.String()); q.Status != 403 {
				t.Fatalf("other browser on the enrolment page: %d", q.Status)
			}
			if q := other.Get(m.env.URL + "/authorize/callback?id=" + p.URL.Query().Get("authRequestID")); q.Status != 403 || q.Redirect != nil {
				t.Fatalf("other browser at the callback: %d %v", q.Status, q.Redirect)
			}
		})

		t.Run("code step without the password step", func(t *testing.T) {
			b := m.env.NewBrowser()
			a := m.rp.Start()
			p := b.Get(a.URL)
			id := p.Form(t, "/login/password").Fields.Get("authRequestID")
			q := b.Post(m.env.URL+"/login/otp", url.Values{"authRequestID": {id}, "code": {"123456"},
				"_csrf": {p.Form(t, "/login/password").Fields.Get("_csrf")}})
			if q.Status != 400 || q.Redirect != nil {
				t.Fatalf("otp without password: %d", q.Status)
			}
		})
	})
}

// A session from before the policy was switched on steps up; prompt=none says interaction_required.
func TestMFASessionBeforePolicyStepsUp(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMFAEnv(t, st, false)
		b := m.env.NewBrowser()
		a, p := m.password(t, b)
		a.Code(t, p)
		m.env.SetMFA(m.ten.ID, true)

		none := m.rp.Start(oauth2.SetAuthURLParam("prompt", "none"))
		if p := b.Get(none.URL); apptest.AppError(p) != "interaction_required" {
			t.Fatalf("prompt=none with a password-only session: %v %d", p.Redirect, p.Status)
		}
		again := m.rp.Start()
		p = b.Get(again.URL)
		if !strings.HasPrefix(p.URL.Path, "/login/enrol") {
			t.Fatalf("SSO with a pre-policy session went to %s (redirect %v)", p.URL, p.Redirect)
		}
		secret := apptest.EnrolmentSecret(t, p)
		p = b.Submit(p, "/login/enrol", map[string]string{"code": apptest.Code(t, secret, m.env.Clock.Now())})
		p = b.Get(continueURL(t, p))
		tok, err := m.rp.Exchange(again.Code(t, p), again)
		if err != nil {
			t.Fatal(err)
		}
		if c := m.rp.IDToken(tok, again.Nonce); !slices.Contains(c.AMR, "otp") {
			t.Errorf("amr %v", c.AMR)
		}
		// Now the session has both factors: prompt=none completes.
		none = m.rp.Start(oauth2.SetAuthURLParam("prompt", "none"))
		if _, err := m.rp.Exchange(none.Code(t, b.Get(none.URL)), none); err != nil {
			t.Fatal(err)
		}
	})
}

// An app can demand MFA with acr_values even when the tenant's policy is off.
func TestMFAStepUpByACRValues(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMFAEnv(t, st, false)
		b := m.env.NewBrowser()
		a, p := m.password(t, b, oauth2.SetAuthURLParam("acr_values", "urn:portcullis:acr:mfa"))
		if !strings.HasPrefix(p.URL.Path, "/login/enrol") {
			t.Fatalf("acr_values=mfa went to %s", p.URL)
		}
		secret := apptest.EnrolmentSecret(t, p)
		p = b.Submit(p, "/login/enrol", map[string]string{"code": apptest.Code(t, secret, m.env.Clock.Now())})
		p = b.Get(continueURL(t, p))
		tok, err := m.rp.Exchange(a.Code(t, p), a)
		if err != nil {
			t.Fatal(err)
		}
		if c := m.rp.IDToken(tok, a.Nonce); c.ACR != "urn:portcullis:acr:mfa" {
			t.Errorf("acr %q", c.ACR)
		}
	})
}

// Guessing codes locks the second step and ends the pending sign-in.
func TestMFALockout(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMFAEnv(t, st, true)
		secret, _, _, _ := m.enrol(t, m.env.NewBrowser())
		m.env.Clock.Advance(30 * time.Second)
		b := m.env.NewBrowser()
		_, p := m.password(t, b)
		id := p.URL.Query().Get("authRequestID")
		var last *apptest.Page
		for i := 0; i < 30 && (last == nil || last.Status != 429); i++ {
			last = b.Submit(p, "/login/otp", map[string]string{"code": "000000"})
			m.env.Clock.Advance(time.Minute) // step over the growing delay, not the lockout
		}
		if last.Status != 429 {
			t.Fatalf("no lockout after 30 wrong codes")
		}
		// Locked: the right code does not help, and the pending sign-in is gone.
		q := b.Post(m.env.URL+"/login/otp", url.Values{"authRequestID": {id}, "code": {apptest.Code(t, secret, m.env.Clock.Now())},
			"_csrf": {p.Form(t, "/login/otp").Fields.Get("_csrf")}})
		if q.Redirect != nil && q.Redirect.Query().Get("code") != "" {
			t.Fatal("a locked-out sign-in completed")
		}
		if _, err := st.AuthRequestByID(context.Background(), id); err == nil {
			t.Error("the pending sign-in survived the lockout")
		}
	})
}

// A refresh token from a password-only sign-in stops working when the policy goes on.
func TestMFARefreshTokenBeforePolicyIsRefused(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		env := apptest.New(t, st)
		ten := env.Tenant("Acme")
		env.User(ten.ID, "ann@acme.test", pw, storage.RoleMember)
		c, sec := env.Client(ten.ID, apptest.ClientOptions{})
		rp := env.RP(c, sec, "openid", "offline_access")
		a, code := rp.SignIn(env.NewBrowser(), "ann@acme.test", pw)
		tok, err := rp.Exchange(code, a)
		if err != nil || tok.RefreshToken == "" {
			t.Fatalf("exchange: %v (refresh token %q)", err, tok.RefreshToken)
		}
		env.SetMFA(ten.ID, true)
		tok.Expiry = time.Now().Add(-time.Minute) // make the token source refresh
		if _, err := rp.OAuth.TokenSource(context.Background(), tok).Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("refresh of a password-only grant under the MFA policy: %v", err)
		}
	})
}

// Each visit to the enrolment page shows a new secret: one shown earlier (to a password thief, or in
// another tab) is never the one the user confirms.
func TestMFAEnrolmentSecretIsNeverShownTwice(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMFAEnv(t, st, true)
		_, thief := m.password(t, m.env.NewBrowser())
		seen := apptest.EnrolmentSecret(t, thief)
		b := m.env.NewBrowser()
		_, p := m.password(t, b)
		mine := apptest.EnrolmentSecret(t, p)
		if bytes.Equal(seen, mine) {
			t.Fatal("the same pending secret was shown to two browsers")
		}
		// The thief's secret no longer confirms anything.
		p2 := b.Submit(p, "/login/enrol", map[string]string{"code": apptest.Code(t, seen, m.env.Clock.Now())})
		if p2.Status != 401 {
			t.Fatalf("a code of the earlier secret confirmed the enrolment: %d", p2.Status)
		}
		if !bytes.Equal(apptest.EnrolmentSecret(t, p2), mine) {
			t.Fatal("after a wrong code the page must show the same secret again")
		}
	})
}

// An essential acr claim in the claims parameter (OIDC Core §5.5.1.1) demands MFA like acr_values.
func TestMFAStepUpByEssentialACRClaim(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMFAEnv(t, st, false)
		claims := `{"id_token":{"acr":{"essential":true,"values":["urn:portcullis:acr:mfa"]}}}`
		_, p := m.password(t, m.env.NewBrowser(), oauth2.SetAuthURLParam("claims", claims))
		if !strings.HasPrefix(p.URL.Path, "/login/enrol") {
			t.Fatalf("an essential acr claim for MFA went to %s", p.URL)
		}
		// A malformed claims parameter is refused to the app, not ignored.
		b := m.env.NewBrowser()
		p = b.Get(m.rp.Start(oauth2.SetAuthURLParam("claims", "{not json")).URL)
		if apptest.AppError(p) != "invalid_request" {
			t.Fatalf("malformed claims: %v %d", p.Redirect, p.Status)
		}
	})
}

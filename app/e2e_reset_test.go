package app_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/app"
	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/mail/mailtest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

const newPW = "a brand new passphrase"

// mailEnv is an mfaEnv whose server sends mail to a real (in-process) SMTP server.
type mailEnv struct {
	*mfaEnv
	smtp *mailtest.Server
}

func newMailEnv(t *testing.T, st *storage.Store, policy bool) *mailEnv {
	t.Helper()
	srv := mailtest.Start(t, mailtest.Plain)
	env := apptest.New(t, st, func(c *app.Config) { c.Mail.SMTP.URL = srv.URL() })
	ten := env.Tenant("Acme Inc")
	u := env.User(ten.ID, "ann@acme.test", pw, storage.RoleMember)
	c, sec := env.Client(ten.ID, apptest.ClientOptions{})
	env.SetMFA(ten.ID, policy)
	return &mailEnv{mfaEnv: &mfaEnv{env: env, ten: ten, user: u, rp: env.RP(c, sec, "openid", "email", "offline_access")}, smtp: srv}
}

// deliver runs the outbox worker once and returns the messages to addr the server holds.
func (m *mailEnv) deliver(t *testing.T, addr string, want int) []mailtest.Message {
	t.Helper()
	m.env.App.Mail.RunOnce(context.Background())
	msgs := m.smtp.To(addr)
	if len(msgs) != want {
		t.Fatalf("%d messages to %s, want %d", len(msgs), addr, want)
	}
	return msgs
}

// forgot asks for a reset of email from the sign-in page of a new sign-in in b.
func (m *mailEnv) forgot(t *testing.T, b *apptest.Browser, email string) *apptest.Page {
	t.Helper()
	a := m.rp.Start()
	p := b.Get(a.URL)
	id := p.URL.Query().Get("authRequestID")
	if !strings.Contains(p.Body, `href="/login/forgot?authRequestID=`+id+`"`) {
		t.Fatalf("no Forgot password? link on the sign-in page:\n%s", p.Body)
	}
	p = b.Get(m.env.URL + "/login/forgot?authRequestID=" + id)
	return b.Submit(p, "/login/forgot", map[string]string{"email": email})
}

// TestPasswordResetByEmail: forgot password → mail through the outbox and a real SMTP server → link →
// new password → every session and token of the user ended → the next sign-in needs the new password
// AND the second factor → tokens at the app; a notification tells the user.
func TestPasswordResetByEmail(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMailEnv(t, st, true)
		ctx := context.Background()
		phone := m.env.NewBrowser()
		secret, _, a, p := m.enrol(t, phone)
		tok, err := m.rp.Exchange(a.Code(t, p), a)
		if err != nil {
			t.Fatal(err)
		}

		// The same status and page whether or not the address has an account.
		b := m.env.NewBrowser()
		start := time.Now()
		known := m.forgot(t, b, "Ann@acme.test")
		tKnown := time.Since(start)
		start = time.Now()
		unknown := m.forgot(t, b, "nobody@acme.test")
		tUnknown := time.Since(start)
		if known.Status != http.StatusOK || unknown.Status != known.Status ||
			strings.ReplaceAll(known.Body, "Ann@acme.test", "X") != strings.ReplaceAll(unknown.Body, "nobody@acme.test", "X") {
			t.Fatalf("known %d, unknown %d: the answers differ\n%s\n%s", known.Status, unknown.Status, known.Body, unknown.Body)
		}
		if tKnown < 400*time.Millisecond || tUnknown < 400*time.Millisecond {
			t.Errorf("answers took %v and %v, want at least 400 ms each", tKnown, tUnknown)
		}
		msgs := m.deliver(t, "ann@acme.test", 2) // the enrolment's notification, then the reset
		msg := msgs[1]
		if !strings.Contains(msgs[0].Subject, "new authenticator") || !strings.Contains(msg.Subject, "Reset your password") {
			t.Fatalf("messages %q, %q", msgs[0].Subject, msg.Subject)
		}
		if !strings.Contains(msg.Subject, "Acme Inc") || !strings.Contains(msg.Text, "Acme Inc") || !strings.Contains(msg.HTML, "Acme Inc") {
			t.Errorf("the mail does not name the tenant: %q\n%s", msg.Subject, msg.Text)
		}
		link := msg.Link()
		if !strings.HasPrefix(link, m.env.URL+"/login/reset?token=") || !strings.Contains(msg.HTML, "/login/reset?token=") {
			t.Fatalf("link %q\n%s", link, msg.Text)
		}
		if len(m.smtp.Messages()) != 2 {
			t.Fatalf("the unknown address got mail: %d messages", len(m.smtp.Messages()))
		}

		// The link opens the new-password form (in a browser with no sign-in); it spends nothing.
		other := m.env.NewBrowser()
		p = other.Get(link)
		if p.Status != http.StatusOK || strings.Count(p.Body, `autocomplete="new-password"`) != 2 {
			t.Fatalf("reset page %d:\n%s", p.Status, p.Body)
		}
		for _, tc := range []struct{ name, pw, confirm string }{
			{"common password", "password1", "password1"},
			{"too short", "short", "short"},
			{"contains the email", "xx ann xx ann", "xx ann xx ann"},
			{"not the same twice", newPW, newPW + "!"},
		} {
			if q := other.Submit(p, "/login/reset", map[string]string{"password": tc.pw, "password_confirm": tc.confirm}); q.Status != http.StatusBadRequest {
				t.Errorf("%s: %d", tc.name, q.Status)
			}
		}
		p = other.Submit(p, "/login/reset", map[string]string{"password": newPW, "password_confirm": newPW})
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "Your password is changed") {
			t.Fatalf("after the reset: %d\n%s", p.Status, p.Body)
		}
		// Used twice: refused.
		if q := other.Get(link); q.Status != http.StatusGone {
			t.Errorf("second use: %d", q.Status)
		}
		if q := other.Post(link, nil); q.Status != http.StatusGone && q.Status != http.StatusForbidden {
			t.Errorf("second submit: %d", q.Status)
		}

		// Every refresh token and session of the user is gone.
		a2 := m.rp.Start()
		if q := phone.Get(a2.URL); q.Status != http.StatusOK || !strings.Contains(q.Body, `action="/login/password"`) {
			t.Fatalf("the old session still signs in: %d %s", q.Status, q.URL)
		}
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token to test")
		}
		if _, err := m.rp.OAuth.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
			t.Error("the old refresh token still works")
		}

		// The old password is refused; the new one needs the second factor too.
		_, q := m.password(t, m.env.NewBrowser())
		if q.Status != http.StatusUnauthorized {
			t.Errorf("old password: %d %s", q.Status, q.URL)
		}
		b3 := m.env.NewBrowser()
		a3 := m.rp.Start()
		q = b3.Get(a3.URL)
		q = b3.Submit(q, "/login/password", map[string]string{"email": m.user.Email, "password": newPW})
		if q.URL.Path != "/login/otp" {
			t.Fatalf("after the new password: %s (%d), want the code page: a reset must not skip the second factor", q.URL, q.Status)
		}
		m.env.Clock.Advance(31 * time.Second)
		q = b3.Submit(q, "/login/otp", map[string]string{"code": apptest.Code(t, secret, m.env.Clock.Now())})
		tok3, err := m.rp.Exchange(a3.Code(t, q), a3)
		if err != nil {
			t.Fatal(err)
		}
		if c := m.rp.IDToken(tok3, a3.Nonce); c.Subject != m.user.ID || !slices.Contains(c.AMR, "otp") {
			t.Errorf("claims %+v", c)
		}

		// The user is told, and the audit trail says what happened.
		note := m.deliver(t, "ann@acme.test", 3)[2]
		if !strings.Contains(note.Subject, "password was changed") || note.Link() != "" {
			t.Errorf("notification %q carries a link %q", note.Subject, note.Link())
		}
		evs, err := st.ListAudit(ctx, m.ten.ID, 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range evs {
			actions = append(actions, e.Action)
		}
		if !slices.Contains(actions, "user.password_reset_requested") || !slices.Contains(actions, "user.password_reset") {
			t.Errorf("audit %v", actions)
		}
	})
}

// TestResetLinkRefusals: an expired or tampered link is refused; a link opened where another user is
// signed in changes only its own user and leaves that session alone; another tenant's sign-in page
// sends no mail for this tenant's user; at most 5 reset mails per account per hour.
func TestResetLinkRefusals(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMailEnv(t, st, false)
		b := m.env.NewBrowser()

		// Tampered and expired links.
		m.forgot(t, b, m.user.Email)
		link := m.deliver(t, m.user.Email, 1)[0].Link()
		for _, bad := range []string{link + "x", link[:len(link)-2], m.env.URL + "/login/reset?token=", m.env.URL + "/login/reset"} {
			if p := b.Get(bad); p.Status != http.StatusGone {
				t.Errorf("tampered %q: %d", bad, p.Status)
			}
		}
		p := b.Get(link)
		if p.Status != http.StatusOK {
			t.Fatalf("fresh link: %d", p.Status)
		}
		m.env.Clock.Advance(61 * time.Minute)
		if q := b.Submit(p, "/login/reset", map[string]string{"password": newPW, "password_confirm": newPW}); q.Status != http.StatusGone {
			t.Errorf("expired link: %d", q.Status)
		}
		if q := b.Get(link); q.Status != http.StatusGone {
			t.Errorf("expired link page: %d", q.Status)
		}

		// Bob is signed in in this browser; Ann's link changes Ann only, and Bob stays signed in.
		bob := m.env.User(m.ten.ID, "bob@acme.test", pw, storage.RoleMember)
		bb := m.env.NewBrowser()
		a, code := m.rp.SignIn(bb, bob.Email, pw)
		if _, err := m.rp.Exchange(code, a); err != nil {
			t.Fatal(err)
		}
		m.forgot(t, m.env.NewBrowser(), m.user.Email)
		link = m.deliver(t, m.user.Email, 2)[1].Link()
		p = bb.Get(link)
		if !strings.Contains(p.Body, m.user.Email) {
			t.Errorf("the page does not say whose password it sets:\n%s", p.Body)
		}
		if q := bb.Submit(p, "/login/reset", map[string]string{"password": newPW, "password_confirm": newPW}); q.Status != http.StatusOK {
			t.Fatalf("reset in Bob's browser: %d", q.Status)
		}
		a = m.rp.Start()
		q := bb.Get(a.URL)
		tok, err := m.rp.Exchange(a.Code(t, q), a)
		if err != nil {
			t.Fatalf("Bob's session ended: %v (%d %s)", err, q.Status, q.URL)
		}
		if c := m.rp.IDToken(tok, a.Nonce); c.Subject != bob.ID {
			t.Errorf("the browser's session is now %s, want Bob %s", c.Subject, bob.ID)
		}
		if _, code := m.rp.SignIn(m.env.NewBrowser(), bob.Email, pw); code == "" {
			t.Error("Bob's password changed")
		}

		// Another tenant's sign-in page does not know Ann.
		other := m.env.Tenant("Other")
		oc, osec := m.env.Client(other.ID, apptest.ClientOptions{})
		orp := m.env.RP(oc, osec)
		oa := orp.Start()
		ob := m.env.NewBrowser()
		op := ob.Get(oa.URL)
		op = ob.Get(m.env.URL + "/login/forgot?authRequestID=" + op.URL.Query().Get("authRequestID"))
		if r := ob.Submit(op, "/login/forgot", map[string]string{"email": m.user.Email}); r.Status != http.StatusOK {
			t.Fatalf("other tenant forgot: %d", r.Status)
		}
		m.deliver(t, m.user.Email, 3) // two resets and the notification of the second, nothing more

		// At most 5 reset mails per account per hour: the first reset is more than an hour old, the
		// second counts, so 4 of these 6 requests send mail.
		for range 6 {
			m.forgot(t, m.env.NewBrowser(), m.user.Email)
		}
		resets := 0
		m.env.App.Mail.RunOnce(context.Background())
		for _, msg := range m.smtp.To(m.user.Email) {
			if strings.Contains(msg.Subject, "Reset your password") {
				resets++
			}
		}
		if resets != 1+5 {
			t.Errorf("%d reset mails, want 6 (1 more than an hour ago, 5 in this hour)", resets)
		}
	})
}

// TestMailServerDownSignInUnaffected: with the SMTP server down, asking for a reset and signing in
// work as usual; the mail waits in the outbox and arrives once after the server is back.
func TestMailServerDownSignInUnaffected(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMailEnv(t, st, false)
		m.smtp.Stop()
		if p := m.forgot(t, m.env.NewBrowser(), m.user.Email); p.Status != http.StatusOK {
			t.Fatalf("forgot with the server down: %d", p.Status)
		}
		a, code := m.rp.SignIn(m.env.NewBrowser(), m.user.Email, pw)
		if _, err := m.rp.Exchange(code, a); err != nil {
			t.Fatalf("sign-in with the mail server down: %v", err)
		}
		if n := m.env.App.Mail.RunOnce(context.Background()); n != 0 {
			t.Fatalf("sent %d with the server down", n)
		}
		m.smtp.Restart()
		m.env.App.Mail.RunOnce(context.Background()) // not due yet: the first retry is 15 s later
		if n := len(m.smtp.Messages()); n != 0 {
			t.Fatalf("retried before the backoff: %d", n)
		}
		m.env.Clock.Advance(16 * time.Second)
		m.deliver(t, m.user.Email, 1)
		m.env.Clock.Advance(time.Hour)
		m.deliver(t, m.user.Email, 1)
	})
}

// tokWithRefreshOnly is tok without its access token, so that a token source must use the refresh token.
func tokWithRefreshOnly(tok *oauth2.Token) *oauth2.Token {
	return &oauth2.Token{RefreshToken: tok.RefreshToken}
}

package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/app"
	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/lifecycle"
	"github.com/portcullis/portcullis/mail/mailtest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// TestInvitationByEmail: an admin service client invites a user through the API (no password); the
// mail's link opens the choose-a-password page; the policy is on, so the browser goes through the
// enrolment and ends signed in on the account page, the email verified; that user then gets tokens at
// an app. The invitation is listed while open; a used link, a revoked one, a resent one's old link and
// an invitation link at the reset page are refused.
func TestInvitationByEmail(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		srv := mailtest.Start(t, mailtest.Plain)
		env := apptest.New(t, st, func(c *app.Config) { c.Mail.SMTP.URL = srv.URL() })
		ten := env.Tenant("Acme Inc")
		env.User(ten.ID, "boss@acme.test", pw, storage.RoleAdmin)
		c, sec := env.Client(ten.ID, apptest.ClientOptions{})
		rp := env.RP(c, sec)
		svc, svcSecret := env.Client(ten.ID, apptest.ClientOptions{Grants: []string{"client_credentials"}, Admin: true})
		token := serviceToken(t, rp, svc, svcSecret)
		env.SetMFA(ten.ID, true)
		call := func(method, rest, body string) response {
			return callAPI(t, env, apiCall{Method: method, Path: tenantPath(ten.Slug, rest), Token: token, Body: body})
		}
		deliver := func(to string, want int) []mailtest.Message {
			t.Helper()
			env.App.Mail.RunOnce(t.Context())
			if m := srv.To(to); len(m) != want {
				t.Fatalf("%d messages to %s, want %d", len(m), to, want)
			}
			return srv.To(to)
		}

		if r := call("POST", "/users", `{"email":"cy@acme.test","password":"long enough password","invite":true}`); r.Status != 400 {
			t.Errorf("invite with a password: %d", r.Status)
		}
		r := call("POST", "/users", `{"email":"cy@acme.test","role":"member","invite":true}`)
		if r.Status != http.StatusCreated {
			t.Fatalf("invite: %d %s", r.Status, r.Body)
		}
		var created struct {
			ID         string `json:"id"`
			Invitation struct {
				ID string `json:"id"`
			} `json:"invitation"`
		}
		if err := json.Unmarshal([]byte(r.Body), &created); err != nil || created.Invitation.ID == "" {
			t.Fatalf("answer %s", r.Body)
		}
		if strings.Contains(r.Body, "token") {
			t.Errorf("the API answer carries the link's token: %s", r.Body)
		}
		if r := call("GET", "/invitations", ""); r.Status != 200 || !strings.Contains(r.Body, created.Invitation.ID) {
			t.Fatalf("list: %d %s", r.Status, r.Body)
		}
		first := deliver("cy@acme.test", 1)[0].Link()

		// Resent: a new link; the first stops working.
		r = call("POST", "/invitations/"+created.Invitation.ID+"/resend", "{}")
		if r.Status != 200 {
			t.Fatalf("resend: %d %s", r.Status, r.Body)
		}
		link := deliver("cy@acme.test", 2)[1].Link()
		b := env.NewBrowser()
		if p := b.Get(first); p.Status != http.StatusGone {
			t.Errorf("the resent invitation's old link: %d", p.Status)
		}
		// An invitation link is not a reset link.
		if p := b.Get(strings.Replace(link, "/login/invite", "/login/reset", 1)); p.Status != http.StatusGone {
			t.Errorf("invitation token at the reset page: %d", p.Status)
		}

		p := b.Get(link)
		if p.Status != 200 || strings.Count(p.Body, `autocomplete="new-password"`) != 2 || !strings.Contains(p.Body, "Acme Inc") {
			t.Fatalf("invitation page %d:\n%s", p.Status, p.Body)
		}
		p = b.Submit(p, "/login/invite", map[string]string{"password": newPW, "password_confirm": newPW})
		if !strings.HasPrefix(p.URL.Path, "/login/enrol") {
			t.Fatalf("after choosing the password: %s (%d), want the enrolment (the policy is on)", p.URL, p.Status)
		}
		secret := apptest.EnrolmentSecret(t, p)
		p = b.Submit(p, "/login/enrol", map[string]string{"code": apptest.Code(t, secret, env.Clock.Now())})
		p = b.Get(continueURL(t, p))
		if p.Status != 200 || p.URL.Path != "/admin/account" || !strings.Contains(p.Body, "cy@acme.test") {
			t.Fatalf("after the enrolment: %d %s\n%s", p.Status, p.URL, p.Body)
		}
		u, err := st.UserByEmail(t.Context(), ten.ID, "cy@acme.test")
		if err != nil || !u.EmailVerified || u.PasswordHash == "" {
			t.Fatalf("user %+v %v", u, err)
		}
		if p := env.NewBrowser().Get(link); p.Status != http.StatusGone {
			t.Errorf("used twice: %d", p.Status)
		}
		if r := call("GET", "/invitations", ""); strings.Contains(r.Body, created.Invitation.ID) {
			t.Errorf("an accepted invitation is still listed: %s", r.Body)
		}

		// The new user signs in at an app with the chosen password and a code.
		a := rp.Start()
		b2 := env.NewBrowser()
		q := b2.Get(a.URL)
		q = b2.Submit(q, "/login/password", map[string]string{"email": "cy@acme.test", "password": newPW})
		env.Clock.Advance(31 * time.Second)
		q = b2.Submit(q, "/login/otp", map[string]string{"code": apptest.Code(t, secret, env.Clock.Now())})
		tok, err := rp.Exchange(a.Code(t, q), a)
		if err != nil {
			t.Fatal(err)
		}
		if cl := rp.IDToken(tok, a.Nonce); cl.Subject != u.ID {
			t.Errorf("subject %s, want %s", cl.Subject, u.ID)
		}

		// A revoked invitation: the link dies and the user who never accepted goes.
		r = call("POST", "/users", `{"email":"dee@acme.test","invite":true}`)
		if err := json.Unmarshal([]byte(r.Body), &created); err != nil {
			t.Fatal(err)
		}
		dee := deliver("dee@acme.test", 1)[0].Link()
		if r := call("DELETE", "/invitations/"+created.Invitation.ID, ""); r.Status != http.StatusNoContent {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		if p := env.NewBrowser().Get(dee); p.Status != http.StatusGone {
			t.Errorf("revoked invitation's link: %d", p.Status)
		}
		if _, err := st.UserByID(t.Context(), created.ID); err == nil {
			t.Error("the revoked invitation's user still exists")
		}
		// An expired invitation.
		call("POST", "/users", `{"email":"eve@acme.test","invite":true}`)
		eve := deliver("eve@acme.test", 1)[0].Link()
		env.Clock.Advance(7*24*time.Hour + time.Minute)
		if p := env.NewBrowser().Get(eve); p.Status != http.StatusGone {
			t.Errorf("expired invitation: %d", p.Status)
		}
	})
}

// TestInvitationInAnotherUsersBrowser: an invitation accepted in a browser where someone else is
// signed in sets the invited user's password and leaves that session as it was.
func TestInvitationInAnotherUsersBrowser(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMailEnv(t, st, false)
		b := m.env.NewBrowser()
		a, code := m.rp.SignIn(b, m.user.Email, pw)
		if _, err := m.rp.Exchange(code, a); err != nil {
			t.Fatal(err)
		}
		inv, err := m.env.App.Accounts.Invite(t.Context(), m.ten, "cy@acme.test", "", storage.RoleMember, lifecycle.Actor{ID: "test"})
		if err != nil {
			t.Fatal(err)
		}
		link := m.deliver(t, "cy@acme.test", 1)[0].Link()
		p := b.Submit(b.Get(link), "/login/invite", map[string]string{"password": newPW, "password_confirm": newPW})
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "Sign out, then sign in as cy@acme.test") {
			t.Fatalf("accept in Ann's browser: %d %s\n%s", p.Status, p.URL, p.Body)
		}
		a = m.rp.Start()
		tok, err := m.rp.Exchange(a.Code(t, b.Get(a.URL)), a)
		if err != nil {
			t.Fatal(err)
		}
		if c := m.rp.IDToken(tok, a.Nonce); c.Subject != m.user.ID {
			t.Errorf("the browser's user is now %s, want Ann", c.Subject)
		}
		if _, code := m.rp.SignIn(m.env.NewBrowser(), "cy@acme.test", newPW); code == "" || inv.User.ID == "" {
			t.Error("the invited user cannot sign in with the chosen password")
		}
	})
}

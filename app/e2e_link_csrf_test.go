package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/lifecycle"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// hasCookie says whether b holds a cookie named name for the server at env.
func hasCookie(t *testing.T, env *apptest.Env, b *apptest.Browser, name string) bool {
	t.Helper()
	u, err := url.Parse(env.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range b.Jar.Cookies(u) {
		if strings.HasSuffix(c.Name, name) && c.Value != "" {
			return true
		}
	}
	return false
}

// TestAuditInviteLoginCSRF: the form of an invitation link, read in Eve's browser (token and CSRF
// token), does not post from another browser: otherwise Eve could make a victim's browser accept her
// own invitation with a password she chose, and the victim's browser would be signed in as Eve (login
// CSRF), every sign-in at an app there silently Eve's. The CSRF token of a link page is bound to the
// browser's own secret as well as to the link. A victim with a secret of her own fares no better, and
// the invitation still works in Eve's browser afterwards.
func TestAuditInviteLoginCSRF(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMailEnv(t, st, false)
		ctx := context.Background()
		inv, err := m.env.App.Accounts.Invite(ctx, m.ten, "eve@acme.test", "Eve", storage.RoleMember, lifecycle.Actor{ID: "admin"})
		if err != nil {
			t.Fatal(err)
		}
		link := m.deliver(t, "eve@acme.test", 1)[0].Link()
		eve := m.env.NewBrowser()
		p := eve.Get(link)
		if p.Status != http.StatusOK {
			t.Fatalf("invitation page: %d\n%s", p.Status, p.Body)
		}
		f := p.Form(t, "/login/invite")
		f.Fields.Set("password", "a chosen long passphrase 42")
		f.Fields.Set("password_confirm", "a chosen long passphrase 42")

		// A fresh browser, and one that has a browser secret of its own (it opened a sign-in page).
		fresh := m.env.NewBrowser()
		withSecret := m.env.NewBrowser()
		withSecret.Get(m.rp.Start().URL)
		if !hasCookie(t, m.env, withSecret, "portcullis_browser") {
			t.Fatal("the sign-in page gave the browser no secret")
		}
		for name, victim := range map[string]*apptest.Browser{"fresh browser": fresh, "browser with a secret": withSecret} {
			q := victim.Post(m.env.URL+"/login/invite", f.Fields)
			if q.Status != http.StatusForbidden || !strings.Contains(q.Body, "This form has expired") {
				t.Errorf("%s: Eve's form posted from the victim's browser: %d %s\n%s", name, q.Status, q.URL, q.Body)
			}
			if hasCookie(t, m.env, victim, "portcullis_session") {
				t.Errorf("%s: the victim's browser got a session", name)
			}
			if q := victim.Get(m.env.URL + "/admin/account"); strings.Contains(q.Body, "eve@acme.test") {
				t.Errorf("%s: the victim's browser is signed in as Eve: %s", name, q.URL)
			}
		}
		if u, err := st.UserByID(ctx, inv.User.ID); err != nil || u.PasswordHash != "" {
			t.Fatalf("the forged post set Eve's password: %+v %v", u, err)
		}

		// The invitation still works in the browser that opened it.
		q := eve.Post(m.env.URL+"/login/invite", f.Fields)
		if q.Status != http.StatusOK || q.URL.Path != "/admin/account" || !strings.Contains(q.Body, "eve@acme.test") {
			t.Fatalf("Eve's own post: %d %s\n%s", q.Status, q.URL, q.Body)
		}
	})
}

// TestResetLinkCSRF: a reset link's form posts only from the browser that opened the link; another
// browser's post is refused and spends nothing, and the link still works where it was opened.
func TestResetLinkCSRF(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMailEnv(t, st, false)
		m.forgot(t, m.env.NewBrowser(), m.user.Email)
		link := m.deliver(t, m.user.Email, 1)[0].Link()
		b := m.env.NewBrowser()
		p := b.Get(link)
		if p.Status != http.StatusOK {
			t.Fatalf("reset page: %d\n%s", p.Status, p.Body)
		}
		f := p.Form(t, "/login/reset")
		f.Fields.Set("password", newPW)
		f.Fields.Set("password_confirm", newPW)
		other := m.env.NewBrowser()
		other.Get(m.rp.Start().URL) // a browser secret of its own
		if q := other.Post(m.env.URL+"/login/reset", f.Fields); q.Status != http.StatusForbidden {
			t.Errorf("the form posted from another browser: %d\n%s", q.Status, q.Body)
		}
		if _, code := m.rp.SignIn(m.env.NewBrowser(), m.user.Email, pw); code == "" {
			t.Error("the forged post changed the password")
		}
		if q := b.Post(m.env.URL+"/login/reset", f.Fields); q.Status != http.StatusOK || !strings.Contains(q.Body, "Your password is changed") {
			t.Fatalf("the post from the browser that opened the link: %d\n%s", q.Status, q.Body)
		}
	})
}

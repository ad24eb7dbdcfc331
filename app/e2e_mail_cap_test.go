package app_test

import (
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/lifecycle"
	"github.com/portcullis/portcullis/mail"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// TestResetMailCapRace: 20 forgot-password posts for one email at once queue at most
// MaxResetMailsPerHour reset mails (the cap is counted in the transaction that writes the mail, one
// request of a user after another), and every one of them gets the usual answer.
func TestResetMailCapRace(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMailEnv(t, st, false)
		const n = 20
		type post struct {
			b    *apptest.Browser
			form url.Values
		}
		posts := make([]post, n)
		for i := range posts { // each from its own sign-in's "Forgot password?" page
			b := m.env.NewBrowser()
			p := b.Get(m.rp.Start().URL)
			p = b.Get(m.env.URL + "/login/forgot?authRequestID=" + p.URL.Query().Get("authRequestID"))
			f := p.Form(t, "/login/forgot")
			f.Fields.Set("email", m.user.Email)
			posts[i] = post{b, f.Fields}
		}
		statuses := make([]int, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i, p := range posts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := p.b.Client.PostForm(m.env.URL+"/login/forgot", p.form)
				if err != nil {
					errs[i] = err
					return
				}
				resp.Body.Close()
				statuses[i] = resp.StatusCode
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil || statuses[i] != http.StatusOK {
				t.Errorf("post %d: %d %v", i, statuses[i], errs[i])
			}
		}
		got, err := st.CountMail(t.Context(), m.user.ID, mail.KindPasswordReset, m.env.Clock.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if got != lifecycle.MaxResetMailsPerHour {
			t.Errorf("%d reset mails queued by %d parallel requests, want the cap %d", got, n, lifecycle.MaxResetMailsPerHour)
		}
	})
}

// TestResendInvitationRace: parallel resends of one invitation leave exactly one open link (each
// resend revokes the links of the ones before it).
func TestResendInvitationRace(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMailEnv(t, st, false)
		ctx := t.Context()
		by := lifecycle.Actor{ID: "admin"}
		inv, err := m.env.App.Accounts.Invite(ctx, m.ten, "cy@acme.test", "", storage.RoleMember, by)
		if err != nil {
			t.Fatal(err)
		}
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = m.env.App.Accounts.ResendInvitation(ctx, m.ten, inv.Link.ID, by)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("resend %d: %v", i, err)
			}
		}
		open, err := st.OpenLinks(ctx, m.ten.ID, storage.LinkInvitation, m.env.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(open) != 1 {
			t.Errorf("%d open invitation links after %d parallel resends, want 1", len(open), n)
		}
	})
}

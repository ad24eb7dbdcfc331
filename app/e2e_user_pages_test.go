package app_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// TestSettingsPageUserActions: on the settings page an admin invites a user, sends a user a reset
// email and deletes a user (after confirming); the last active admin cannot delete themselves.
func TestSettingsPageUserActions(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		pe := newPagesEnv(t, st)
		ctx := context.Background()
		b := pe.env.NewBrowser()
		p := pe.signInToSettings(t, b, pe.admin.Email)
		if p.URL.Path != settingsPath {
			t.Fatalf("settings: %s", p.URL)
		}
		q := b.Submit(p, "/admin/settings/users/invite", map[string]string{"email": "Cy@acme.test", "role": "member"})
		if q.Status != 200 || !strings.Contains(q.Body, "invitation is on its way") {
			t.Fatalf("invite: %d %s", q.Status, q.URL)
		}
		q = b.Submit(q, "/admin/settings/users/"+pe.ann.ID+"/send-reset", nil)
		if q.Status != 200 || !strings.Contains(q.Body, "reset email is on its way") {
			t.Fatalf("send reset: %d %s", q.Status, q.URL)
		}
		mails, err := st.ListMail(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(mails) != 2 || mails[0].To != "cy@acme.test" || !strings.Contains(mails[0].Text, "/login/invite?token=") ||
			mails[1].To != pe.ann.Email || !strings.Contains(mails[1].Text, "/login/reset?token=") {
			t.Errorf("outbox %+v", mails)
		}
		_, q = confirmAndSubmit(t, b, q, "/admin/settings/users/"+pe.bob.ID+"/delete/confirm", "/admin/settings/users/"+pe.bob.ID+"/delete")
		if q.Status != 200 || !strings.Contains(q.Body, "The user was deleted") {
			t.Fatalf("delete: %d %s", q.Status, q.URL)
		}
		if _, err := st.UserByID(ctx, pe.bob.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("bob is still there: %v", err)
		}
		_, q = confirmAndSubmit(t, b, q, "/admin/settings/users/"+pe.admin.ID+"/delete/confirm", "/admin/settings/users/"+pe.admin.ID+"/delete")
		if q.Status != http.StatusConflict {
			t.Errorf("deleting the last active admin: %d", q.Status)
		}
		if _, err := st.UserByID(ctx, pe.admin.ID); err != nil {
			t.Errorf("the last admin went: %v", err)
		}
	})
}

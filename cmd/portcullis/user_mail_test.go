package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/storage"
)

// TestUserMailCommands: invite, send-reset, set-password and delete write what they say to the
// database (the outbox, links, the password, the audit trail) through the tenant-admin service.
func TestUserMailCommands(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	out := e.mustRun(t, "", "user", "invite", "--tenant", "acme", "--email", "Bea@acme.test", "--role", "admin", "-o", "json")
	if !strings.Contains(out, `"invitation_id"`) || !strings.Contains(out, `"email": "bea@acme.test"`) && !strings.Contains(out, `"email":"bea@acme.test"`) {
		t.Fatalf("invite printed %s", out)
	}
	e.mustRun(t, "", "user", "send-reset", "--tenant", "acme", "--email", "ada@acme.test")
	if _, _, err := e.run(t, "password\n", "user", "set-password", "--tenant", "acme", "--email", "ada@acme.test", "--password-stdin"); err == nil {
		t.Error("set-password took a common password")
	}
	e.mustRun(t, "a brand new passphrase\n", "user", "set-password", "--tenant", "acme", "--email", "ada@acme.test", "--password-stdin")
	e.withStore(t, func(ctx context.Context, st *storage.Store) {
		mails, err := st.ListMail(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(mails) != 2 || mails[0].To != "bea@acme.test" || !strings.Contains(mails[0].Text, "/login/invite?token=") ||
			mails[1].To != "ada@acme.test" || !strings.Contains(mails[1].Text, "/login/reset?token=") {
			t.Errorf("outbox: %d messages %+v", len(mails), mails)
		}
		u, err := st.UserByEmail(ctx, e.tenant, "ada@acme.test")
		if err != nil || u.PasswordHash == "unused" {
			t.Errorf("the password did not change: %v", err)
		}
		var actions []string
		evs, _ := st.ListAudit(ctx, e.tenant, 0, 50)
		for _, ev := range evs {
			actions = append(actions, ev.Action)
		}
		for _, want := range []string{"user.invited", "user.password_reset_sent", "user.password_set"} {
			if !strings.Contains(strings.Join(actions, " "), want) {
				t.Errorf("audit %v lacks %s", actions, want)
			}
		}
	})
	// Bea is the only admin (invited, not yet accepted, but active): she cannot be deleted; Ada can.
	if _, _, err := e.run(t, "", "user", "delete", "--tenant", "acme", "--email", "bea@acme.test"); err == nil {
		t.Error("deleted the last active admin")
	}
	e.mustRun(t, "", "user", "delete", "--tenant", "acme", "--email", "ada@acme.test")
	e.withStore(t, func(ctx context.Context, st *storage.Store) {
		if _, err := st.UserByID(ctx, e.user); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("the deleted user is still there: %v", err)
		}
	})
}

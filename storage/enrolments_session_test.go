package storage_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// enrolWorld is a tenant, a user and an app to sign in to.
type enrolWorld struct {
	ten storage.Tenant
	u   storage.User
	cl  storage.Client
	now time.Time
}

func newEnrolWorld(t *testing.T, st *storage.Store) enrolWorld {
	t.Helper()
	ctx := context.Background()
	ten, err := st.CreateTenant(ctx, storage.Tenant{Slug: "acme", Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.CreateUser(ctx, storage.User{TenantID: ten.ID, Email: "ann@acme.test", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := st.CreateClient(ctx, storage.Client{TenantID: ten.ID, Name: "app", RedirectURIs: []string{"https://app.example/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	return enrolWorld{ten: ten, u: u, cl: cl, now: time.Now().UTC().Truncate(time.Second)}
}

func (w enrolWorld) signIn(t *testing.T, st *storage.Store) string {
	t.Helper()
	a := storage.AuthRequest{ID: storage.NewID(), TenantID: w.ten.ID, ClientID: w.cl.ID, RedirectURI: "https://app.example/cb",
		ResponseType: "code", CreatedAt: w.now, ExpiresAt: w.now.Add(time.Hour)}
	if err := st.CreateAuthRequest(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	return a.ID
}

// signedIn is a sign-in in flight of the user that recorded factors (no code issued yet).
func (w enrolWorld) signedIn(t *testing.T, st *storage.Store, factors ...string) string {
	t.Helper()
	a := storage.AuthRequest{ID: storage.NewID(), TenantID: w.ten.ID, ClientID: w.cl.ID, RedirectURI: "https://app.example/cb",
		ResponseType: "code", CreatedAt: w.now, ExpiresAt: w.now.Add(time.Hour), UserID: w.u.ID, Factors: factors, AuthTime: w.now}
	if err := st.CreateAuthRequest(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if got, err := st.AuthRequestByID(context.Background(), a.ID); err != nil || got.UserID != w.u.ID || len(got.Factors) != len(factors) {
		t.Fatalf("sign-in in flight %+v %v", got, err)
	}
	return a.ID
}

func (w enrolWorld) session(t *testing.T, st *storage.Store, factors ...string) string {
	t.Helper()
	s := storage.Session{ID: storage.NewID(), TenantID: w.ten.ID, UserID: w.u.ID, Factors: factors, AuthTime: w.now,
		CreatedAt: w.now, ExpiresAt: w.now.Add(time.Hour)}
	if err := st.CreateSession(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s.ID
}

func (w enrolWorld) pending(t *testing.T, st *storage.Store, authRequestID, sessionID, sealed string) storage.PendingEnrolment {
	t.Helper()
	p := storage.PendingEnrolment{ID: storage.NewID(), AuthRequestID: authRequestID, SessionID: sessionID, UserID: w.u.ID,
		TenantID: w.ten.ID, SecretSealed: []byte(sealed), CreatedAt: w.now}
	if err := st.CreatePendingEnrolment(context.Background(), p); err != nil {
		t.Fatalf("CreatePendingEnrolment(%q, %q): %v", authRequestID, sessionID, err)
	}
	return p
}

// A secret pending for a session's account page: exactly one binding, one per session, gone with its
// session, never the "pending" state of the user; activating it replaces the user's app (only the one
// named), the recovery codes and the sessions that carry the old app's codes, in one transaction.
func TestSessionEnrolmentReplace(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		w := newEnrolWorld(t, st)

		for _, bad := range []storage.PendingEnrolment{{}, {AuthRequestID: w.signIn(t, st), SessionID: w.session(t, st, "pwd")}} {
			bad.UserID, bad.TenantID, bad.SecretSealed, bad.CreatedAt = w.u.ID, w.ten.ID, []byte("x"), w.now
			if err := st.CreatePendingEnrolment(ctx, bad); err == nil {
				t.Errorf("CreatePendingEnrolment bound to %q and %q: no error", bad.AuthRequestID, bad.SessionID)
			}
		}

		// A session's secret of a user without an app is not the user's "pending" state, and goes with
		// its session.
		gone := w.session(t, st, "pwd", "hwk")
		w.pending(t, st, "", gone, "gone")
		if _, err := st.AuthenticatorByUser(ctx, w.u.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("AuthenticatorByUser with a session's secret only: %v, want not found", err)
		}
		if err := st.DeleteSession(ctx, gone); err != nil {
			t.Fatal(err)
		}
		if _, err := st.SessionPendingEnrolment(ctx, gone); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("a session's secret after the session ended: %v", err)
		}

		// The user's first app, through a sign-in, with recovery codes.
		first := w.pending(t, st, w.signIn(t, st), "", "old app")
		old, err := st.ActivateAuthenticator(ctx, storage.Activation{PendingID: first.ID, Step: 100, Now: w.now,
			Codes: []storage.RecoveryCode{{Hash: "old-1"}, {Hash: "old-2"}}})
		if err != nil {
			t.Fatal(err)
		}

		withOTP := w.session(t, st, "pwd", "otp")
		withRec := w.session(t, st, "pwd", "rec")
		withKey := w.session(t, st, "pwd", "hwk")
		here := w.session(t, st, "pwd", "otp")
		flightOTP, flightKey := w.signedIn(t, st, "pwd", "otp"), w.signedIn(t, st, "pwd", "hwk")
		tokens := map[string]bool{} // access token id: revoked by the replacement
		for amr, revoked := range map[string]bool{"pwd otp mfa": true, "pwd kba mfa": true, "pwd hwk mfa": false, "pwd": false} {
			at := storage.AccessToken{ID: storage.NewID(), GrantID: storage.NewID(), TenantID: w.ten.ID, ClientID: w.cl.ID, Subject: w.u.ID,
				Scopes: []string{"openid"}, Audience: []string{w.cl.ID}, AMR: strings.Fields(amr), CreatedAt: w.now, ExpiresAt: w.now.Add(time.Hour)}
			if err := st.CreateTokens(ctx, at, nil); err != nil {
				t.Fatal(err)
			}
			tokens[at.ID] = revoked
		}
		mine := w.pending(t, st, "", here, "new app")
		if err := st.CreatePendingEnrolment(ctx, storage.PendingEnrolment{SessionID: here, UserID: w.u.ID, TenantID: w.ten.ID,
			SecretSealed: []byte("another"), CreatedAt: w.now}); !errors.Is(err, storage.ErrAlreadyExists) {
			t.Errorf("a second secret for one session: %v, want ErrAlreadyExists", err)
		}
		got, err := st.SessionPendingEnrolment(ctx, here)
		if err != nil || got.ID != mine.ID || got.SessionID != here || got.AuthRequestID != "" || string(got.SecretSealed) != "new app" {
			t.Fatalf("SessionPendingEnrolment = %+v, %v", got, err)
		}
		if a, err := st.AuthenticatorByUser(ctx, w.u.ID); err != nil || a.ID != old.ID {
			t.Fatalf("the active app with a session's secret pending: %+v %v", a, err)
		}
		otherSession := w.pending(t, st, "", w.session(t, st, "pwd", "hwk"), "another session's")

		ev := storage.AuditEvent{TenantID: w.ten.ID, ActorID: w.u.ID, TargetID: w.u.ID, Action: "mfa.enrolment_confirmed", CreatedAt: w.now,
			Detail: map[string]any{"replaced": true}}
		act := storage.Activation{PendingID: mine.ID, Step: 200, Now: w.now, Codes: []storage.RecoveryCode{{Hash: "new-1"}},
			EndSessionsWith: []string{"otp", "rec"}, KeepSession: here, RevokeAMR: []string{"otp", "kba"}, Record: storage.Record{Audit: &ev}}

		// Without naming the app it replaces, or naming another, nothing happens.
		for _, replaces := range []string{"", storage.NewID()} {
			a := act
			a.Replaces = replaces
			if _, err := st.ActivateAuthenticator(ctx, a); !errors.Is(err, storage.ErrConflict) {
				t.Errorf("replacing %q: %v, want ErrConflict", replaces, err)
			}
		}
		if a, err := st.AuthenticatorByUser(ctx, w.u.ID); err != nil || a.ID != old.ID {
			t.Fatalf("after refused replacements: %+v %v", a, err)
		}
		if _, err := st.SessionByID(ctx, withOTP); err != nil {
			t.Fatalf("a refused replacement ended a session: %v", err)
		}

		act.Replaces = old.ID
		repl, err := st.ActivateAuthenticator(ctx, act)
		if err != nil {
			t.Fatal(err)
		}
		a, err := st.AuthenticatorByUser(ctx, w.u.ID)
		if err != nil || a.ID != repl.ID || a.ID == old.ID || string(a.SecretSealed) != "new app" || a.LastStep != 200 {
			t.Fatalf("after replacing: %+v %v", a, err)
		}
		codes, err := st.UnusedRecoveryCodes(ctx, w.u.ID)
		if err != nil || len(codes) != 1 || codes[0].Hash != "new-1" {
			t.Errorf("recovery codes after replacing: %+v %v", codes, err)
		}
		for id, revoked := range tokens {
			at, err := st.AccessTokenByID(ctx, id)
			if err != nil || (at.RevokedAt != nil) != revoked {
				t.Errorf("token with amr %v after replacing: revoked %v (%v), want %v", at.AMR, at.RevokedAt != nil, err, revoked)
			}
		}
		// A sign-in in flight that proved the old app's code ends with its sessions; one with a key stays.
		for id, want := range map[string]bool{flightOTP: false, flightKey: true} {
			if _, err := st.AuthRequestByID(ctx, id); (err == nil) != want {
				t.Errorf("sign-in in flight %s after replacing: %v, want kept %v", id, err, want)
			}
		}
		for id, want := range map[string]bool{withOTP: false, withRec: false, withKey: true, here: true} {
			if _, err := st.SessionByID(ctx, id); (err == nil) != want {
				t.Errorf("session %s after replacing: %v, want kept %v", id, err, want)
			}
		}
		for _, p := range []func() (storage.PendingEnrolment, error){
			func() (storage.PendingEnrolment, error) { return st.SessionPendingEnrolment(ctx, here) },
			func() (storage.PendingEnrolment, error) {
				return st.SessionPendingEnrolment(ctx, otherSession.SessionID)
			},
		} {
			if _, err := p(); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("a pending secret after replacing: %v", err)
			}
		}
		evs, err := st.ListAudit(ctx, w.ten.ID, 0, 10)
		if err != nil || len(evs) == 0 || evs[0].Action != "mfa.enrolment_confirmed" || evs[0].Detail["replaced"] != true {
			t.Errorf("audit after replacing: %+v %v", evs, err)
		}

		// The replaced app cannot be replaced again (a racing second replacement loses).
		late := w.pending(t, st, "", w.session(t, st, "pwd", "otp"), "late")
		act.PendingID, act.KeepSession = late.ID, late.SessionID
		if _, err := st.ActivateAuthenticator(ctx, act); !errors.Is(err, storage.ErrConflict) {
			t.Errorf("replacing the replaced app: %v, want ErrConflict", err)
		}

		// Cancelling drops the session's secret only.
		if err := st.DeleteSessionPendingEnrolment(ctx, late.SessionID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.SessionPendingEnrolment(ctx, late.SessionID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("after cancelling: %v", err)
		}
	})
}

// Migration 00009 (pending secrets bound to a session) keeps the sign-ins' secrets, up and down; going
// down drops the sessions' secrets, which the old schema cannot hold.
func TestMigrateSessionEnrolments(t *testing.T) {
	for _, tc := range []struct {
		name, driver string
		dialect      goose.Dialect
		dsn          func(t *testing.T) string
	}{
		{"sqlite", "sqlite", goose.DialectSQLite3, func(t *testing.T) string { return filepath.Join(t.TempDir(), "pe.db") }},
		{"postgres", "pgx", goose.DialectPostgres, freshPostgresSchema},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			dsn := tc.dsn(t)
			open := func() *storage.Store {
				st, err := storage.Open(ctx, dsn, storage.Options{}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := st.Migrate(ctx); err != nil {
					t.Fatal(err)
				}
				return st
			}
			st := open()
			w := newEnrolWorld(t, st)
			signIn := w.pending(t, st, w.signIn(t, st), "", "sign-in")
			w.pending(t, st, "", w.session(t, st, "pwd", "hwk"), "account")
			st.Close()

			db, err := sql.Open(tc.driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			p, err := goose.NewProvider(tc.dialect, db, os.DirFS("migrations/"+tc.name), goose.WithTableName("schema_migrations"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.DownTo(ctx, 8); err != nil {
				t.Fatalf("down to 8: %v", err)
			}
			var n int
			if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pending_enrolments").Scan(&n); err != nil || n != 1 {
				t.Fatalf("pending secrets after going down: %d %v, want the sign-in's only", n, err)
			}
			// The old schema again demands a sign-in.
			if _, err := db.ExecContext(ctx, "INSERT INTO pending_enrolments (id, user_id, tenant_id, secret_sealed, created_at) VALUES ($1, $2, $3, $4, $5)",
				storage.NewID(), w.u.ID, w.ten.ID, []byte("x"), w.now); err == nil {
				t.Error("down: a pending secret without a sign-in was accepted")
			}
			db.Close()

			st = open() // up again
			defer st.Close()
			got, err := st.PendingEnrolment(ctx, signIn.AuthRequestID)
			if err != nil || got.ID != signIn.ID || string(got.SecretSealed) != "sign-in" || got.UserID != w.u.ID {
				t.Fatalf("the sign-in's secret after down and up: %+v %v", got, err)
			}
			w.pending(t, st, "", w.session(t, st, "pwd", "otp"), "account again")
		})
	}
}

package storage_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/portcullis/portcullis/storage"
)

// Migration 00008 (challenges bound to a session) keeps the sign-ins' ceremonies in flight, up and down;
// going down drops the sessions' ceremonies, which the old schema cannot hold.
func TestMigrateSessionChallenges(t *testing.T) {
	for _, tc := range []struct {
		name, driver string
		dialect      goose.Dialect
		dsn          func(t *testing.T) string
	}{
		{"sqlite", "sqlite", goose.DialectSQLite3, func(t *testing.T) string { return filepath.Join(t.TempDir(), "ch.db") }},
		{"postgres", "pgx", goose.DialectPostgres, freshPostgresSchema},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			dsn := tc.dsn(t)
			now := time.Now().UTC()
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
			a := storage.AuthRequest{ID: storage.NewID(), TenantID: ten.ID, ClientID: cl.ID, RedirectURI: "https://app.example/cb",
				ResponseType: "code", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := st.CreateAuthRequest(ctx, a); err != nil {
				t.Fatal(err)
			}
			s := storage.Session{ID: storage.NewID(), TenantID: ten.ID, UserID: u.ID, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := st.CreateSession(ctx, s); err != nil {
				t.Fatal(err)
			}
			for _, ch := range []storage.WebAuthnChallenge{{AuthRequestID: a.ID, SessionData: "sign-in"}, {SessionID: s.ID, SessionData: "account"}} {
				ch.Purpose, ch.UserID, ch.TenantID, ch.ExpiresAt = "register", u.ID, ten.ID, now.Add(5*time.Minute)
				if err := st.PutChallenge(ctx, ch); err != nil {
					t.Fatal(err)
				}
			}
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
			if _, err := p.DownTo(ctx, 7); err != nil {
				t.Fatalf("down to 7: %v", err)
			}
			var n int
			if err := db.QueryRowContext(ctx, "SELECT count(*) FROM webauthn_challenges").Scan(&n); err != nil || n != 1 {
				t.Fatalf("challenges after going down: %d %v, want the sign-in's only", n, err)
			}
			db.Close()

			st = open() // up again
			defer st.Close()
			if ch, err := st.TakeChallenge(ctx, a.ID, "register"); err != nil || ch.SessionData != "sign-in" {
				t.Fatalf("the sign-in's challenge after down and up: %+v %v", ch, err)
			}
		})
	}
}

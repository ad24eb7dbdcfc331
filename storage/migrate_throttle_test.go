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

// Upgrading to the per-address window (migration 00003) drops the old per-address lockout counters,
// which shut whole offices out for up to a day, and keeps the per-user ones.
func TestMigrateDropsAddressLockouts(t *testing.T) {
	for _, tc := range []struct {
		name, driver string
		dialect      goose.Dialect
		dsn          func(t *testing.T) (raw, store string)
	}{
		{"sqlite", "sqlite", goose.DialectSQLite3, func(t *testing.T) (string, string) {
			p := filepath.Join(t.TempDir(), "up.db")
			return p, p
		}},
		{"postgres", "pgx", goose.DialectPostgres, func(t *testing.T) (string, string) {
			d := freshPostgresSchema(t)
			return d, d
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			raw, dsn := tc.dsn(t)
			db, err := sql.Open(tc.driver, raw)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			p, err := goose.NewProvider(tc.dialect, db, os.DirFS("migrations/"+tc.name), goose.WithTableName("schema_migrations"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.UpTo(ctx, 1); err != nil {
				t.Fatalf("migrate to 1: %v", err)
			}
			locked := time.Now().Add(20 * time.Hour).UTC()
			for _, key := range []string{"pwd:ip:203.0.113.10", "pwd:user:u1"} {
				if _, err := db.ExecContext(ctx, pgPlaceholders(tc.name, `INSERT INTO throttles (key, failures, locked_until, updated_at) VALUES (?, 14, ?, ?)`),
					key, locked, time.Now().UTC()); err != nil {
					t.Fatalf("insert %s: %v", key, err)
				}
			}
			st, err := storage.Open(ctx, dsn, storage.Options{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if _, err := st.Migrate(ctx); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			for key, want := range map[string]int{"pwd:ip:203.0.113.10": 0, "pwd:user:u1": 14} {
				got, err := st.Throttle(ctx, key)
				if err != nil || got.Failures != want {
					t.Errorf("Throttle(%s) after the upgrade = %+v, %v; want %d failures", key, got, err, want)
				}
			}
		})
	}
}

// pgPlaceholders turns ? placeholders into PostgreSQL's $n.
func pgPlaceholders(dialect, q string) string {
	if dialect != "postgres" {
		return q
	}
	out, n := []byte{}, 0
	for i := range len(q) {
		if q[i] == '?' {
			n++
			out = append(out, '$', byte('0'+n))
			continue
		}
		out = append(out, q[i])
	}
	return string(out)
}

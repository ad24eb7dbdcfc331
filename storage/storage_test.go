package storage_test

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

func TestSQLite(t *testing.T) {
	storagetest.RunTests(t, storagetest.NewSQLite)
	storagetest.RunConcurrencyTests(t, storagetest.NewSQLite)
}

func TestPostgres(t *testing.T) {
	if os.Getenv("PORTCULLIS_TEST_POSTGRES") == "" {
		t.Skip("PORTCULLIS_TEST_POSTGRES is not set")
	}
	storagetest.RunTests(t, storagetest.NewPostgres)
	storagetest.RunConcurrencyTests(t, storagetest.NewPostgres)
}

func TestEach(t *testing.T) {
	var ran []string
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		ran = append(ran, st.Dialect())
		if _, err := st.CountTenants(t.Context()); err != nil {
			t.Fatalf("CountTenants on a fresh store: %v", err)
		}
	})
	if len(ran) == 0 || ran[0] != storage.DialectSQLite {
		t.Errorf("Each ran %v, want sqlite first", ran)
	}
}

// TestMigrate checks that a fresh database reports pending migrations, that Migrate applies them, and
// that migrating again is a no-op.
func TestMigrate(t *testing.T) {
	sqliteFile := func(prefix string, elem ...string) func(t *testing.T) (string, string) {
		return func(t *testing.T) (string, string) {
			path := filepath.Join(append([]string{t.TempDir()}, elem...)...)
			return prefix + path, path
		}
	}
	for _, tc := range []struct {
		name string
		dsn  func(t *testing.T) (dsn, file string) // file is where the SQLite database must appear
	}{
		{"sqlite", sqliteFile("", "fresh.db")},
		{"sqlite url", sqliteFile("sqlite://", "sub", "fresh.db")},
		{"sqlite file uri", sqliteFile("file:", "fresh.db")},
		{"sqlite path with # % and space", sqliteFile("", "a#b%20c d", "fresh#1.db")},
		{"postgres", func(t *testing.T) (string, string) { return freshPostgresSchema(t), "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			dsn, file := tc.dsn(t)
			st, err := storage.Open(ctx, dsn, storage.Options{}, nil)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { st.Close() })
			if file != "" {
				if _, err := os.Stat(file); err != nil {
					t.Fatalf("the SQLite file is not where the DSN says: %v", err)
				}
			}

			pending, err := st.MigrationsPending(ctx)
			if err != nil || !pending {
				t.Fatalf("MigrationsPending on a fresh database = %v, %v; want true", pending, err)
			}
			n, err := st.Migrate(ctx)
			if err != nil || n == 0 {
				t.Fatalf("Migrate = %d, %v; want some migrations", n, err)
			}
			pending, err = st.MigrationsPending(ctx)
			if err != nil || pending {
				t.Fatalf("MigrationsPending after Migrate = %v, %v; want false", pending, err)
			}
			n, err = st.Migrate(ctx)
			if err != nil || n != 0 {
				t.Fatalf("Migrate again = %d, %v; want 0", n, err)
			}
			if _, err := st.CountTenants(ctx); err != nil {
				t.Fatalf("CountTenants after Migrate: %v", err)
			}
		})
	}
}

// freshPostgresSchema returns a DSN for a new, empty schema (dropped when the test ends), or skips.
func freshPostgresSchema(t *testing.T) string {
	dsn := os.Getenv("PORTCULLIS_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("PORTCULLIS_TEST_POSTGRES is not set")
	}
	schema := "t_" + storage.NewID()
	exec := func(stmt string) {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer db.Close()
		if _, err := db.ExecContext(context.Background(), stmt); err != nil {
			t.Errorf("%s: %v", stmt, err)
		}
	}
	exec("CREATE SCHEMA " + schema)
	t.Cleanup(func() { exec("DROP SCHEMA " + schema + " CASCADE") })
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse PORTCULLIS_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Instances that start together on a fresh PostgreSQL migrate it once between them, and all start.
func TestConcurrentMigrate(t *testing.T) {
	dsn := freshPostgresSchema(t)
	const n = 4
	errs := make(chan error, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			st, err := storage.Open(t.Context(), dsn, storage.Options{MaxOpenConns: 2}, nil)
			if err != nil {
				errs <- err
				return
			}
			defer st.Close()
			_, err = st.Migrate(t.Context())
			errs <- err
		}()
	}
	close(start)
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("an instance failed to start: %v", err)
		}
	}
}

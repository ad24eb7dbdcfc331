// Package storagetest opens throwaway stores for tests and holds the storage conformance suite that every
// dialect runs (in the manner of dexidp/dex storage/conformance).
//
// Each test gets its own SQLite file under t.TempDir(), or its own PostgreSQL schema that is dropped
// afterwards, so packages can test in parallel. PostgreSQL runs only when PORTCULLIS_TEST_POSTGRES holds a
// DSN ("postgres://user@host:5432/db?sslmode=disable"); otherwise those tests are skipped.
package storagetest

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" database/sql driver for creating and dropping schemas

	"github.com/portcullis/portcullis/storage"
)

// envPostgres names the environment variable that holds the PostgreSQL DSN for tests.
const envPostgres = "PORTCULLIS_TEST_POSTGRES"

// postgresConns bounds each test store's pool: many tests and packages share one server.
const postgresConns = 8

// NewSQLite returns a migrated store on a fresh SQLite file under t.TempDir(), closed when the test ends.
func NewSQLite(t testing.TB) *storage.Store {
	t.Helper()
	return Open(t, SQLiteDSN(t))
}

// NewPostgres returns a migrated store in a fresh PostgreSQL schema of the server named by
// PORTCULLIS_TEST_POSTGRES, and skips the test when that is not set. The schema is dropped when the
// test ends.
func NewPostgres(t testing.TB) *storage.Store {
	t.Helper()
	return Open(t, PostgresDSN(t))
}

// SQLiteDSN returns the path of a fresh SQLite file under t.TempDir(). Tests that open one database
// twice (a restart, two instances) or read its files use it with Open.
func SQLiteDSN(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "portcullis.db")
}

// PostgresDSN creates a fresh schema on the PostgreSQL server named by PORTCULLIS_TEST_POSTGRES and
// returns a DSN whose search path is that schema; the schema is dropped when the test ends. It skips the
// test when the variable is not set. Stores opened on it with Open are closed before the schema is
// dropped.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(envPostgres)
	if dsn == "" {
		t.Skipf("%s is not set", envPostgres)
	}
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL", envPostgres)
	}
	schema := "t_" + storage.NewID()
	if err := execPostgres(dsn, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		if err := execPostgres(dsn, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop test schema: %v", err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema) // pgx sends unknown parameters as run-time parameters
	u.RawQuery = q.Encode()
	return u.String()
}

// Each runs fn as the subtests "sqlite" and "postgres", each with a fresh migrated store. The postgres
// subtest is skipped unless PORTCULLIS_TEST_POSTGRES is set.
func Each(t *testing.T, fn func(t *testing.T, st *storage.Store)) {
	t.Helper()
	for _, d := range []struct {
		name string
		open func(testing.TB) *storage.Store
	}{
		{storage.DialectSQLite, NewSQLite},
		{storage.DialectPostgres, NewPostgres},
	} {
		t.Run(d.name, func(t *testing.T) { fn(t, d.open(t)) })
	}
}

// Open opens and migrates a store on dsn (from SQLiteDSN or PostgresDSN) and closes it in t.Cleanup
// (registered after, so run before, the cleanup that drops what holds it). Opening one DSN twice gives
// two stores on one database, as two instances or a restart would have. A PostgreSQL store's pool is
// bounded: many tests and packages share one server.
func Open(t testing.TB, dsn string) *storage.Store {
	t.Helper()
	var opts storage.Options
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		opts.MaxOpenConns = postgresConns
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := storage.Open(ctx, dsn, opts, log)
	if err != nil {
		t.Fatalf("open test store: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close test store: %v", err)
		}
	})
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate test store: %v", err)
	}
	return st
}

// execPostgres runs one statement on a short-lived connection of its own.
func execPostgres(dsn, stmt string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %w", stmt, err)
	}
	return nil
}

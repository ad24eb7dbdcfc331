package storage

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
)

//go:embed migrations
var migrationFS embed.FS

func (s *Store) migrator() (*goose.Provider, error) {
	dialect := goose.DialectSQLite3
	if s.dialect == DialectPostgres {
		dialect = goose.DialectPostgres
	}
	sub, err := fs.Sub(migrationFS, "migrations/"+s.dialect)
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(dialect, s.sqlDB, sub, goose.WithTableName("schema_migrations"))
}

// Migrate applies every pending versioned migration, each in its own transaction, and returns how many ran.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	p, err := s.migrator()
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	// Instances starting together race to migrate. There is no advisory lock (distributed
	// PostgreSQL-compatible databases lack it): a loser's transaction rolls back, and it looks again;
	// when the winner has applied everything, it starts on the migrated schema.
	var res []*goose.MigrationResult
	for attempt := 0; ; attempt++ {
		res, err = p.Up(ctx)
		if err == nil {
			return len(res), nil
		}
		if attempt == 4 {
			return len(res), fmt.Errorf("migrate: %w", err)
		}
		select {
		case <-ctx.Done():
			return len(res), fmt.Errorf("migrate: %w", ctx.Err())
		case <-time.After(time.Duration(attempt+1) * 200 * time.Millisecond):
		}
		if pending, perr := p.HasPending(ctx); perr == nil && !pending {
			return len(res), nil
		}
	}
}

// MigrationsPending reports whether the schema is behind this binary (for /readyz).
func (s *Store) MigrationsPending(ctx context.Context) (bool, error) {
	p, err := s.migrator()
	if err != nil {
		return false, fmt.Errorf("migration status: %w", err)
	}
	return p.HasPending(ctx)
}

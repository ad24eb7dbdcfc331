package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/libtnb/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Dialects.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// Store is the database. Its methods are the repositories; it is safe for concurrent use.
type Store struct {
	db      *gorm.DB
	sqlDB   *sql.DB
	reader  *sql.DB // SQLite: read-only connections beside the single writer, for the hot reads; else nil
	dialect string
	log     *slog.Logger

	writes, reads *stmtCache // SQLite: the hot statements prepared on the writer and the readers; else nil
	rebound       *sync.Map  // PostgreSQL: SQL text → its '$n' form (statements.go)
}

// Options tunes the connection; zero values pick sensible defaults.
type Options struct {
	MaxOpenConns     int           // PostgreSQL pool size (default 20)
	StatementTimeout time.Duration // PostgreSQL statement_timeout (default 10s)
	BusyTimeout      time.Duration // SQLite busy timeout (default 10s)
}

// Open connects to the database named by dsn: "postgres://..." or "postgresql://..." opens PostgreSQL;
// "sqlite://PATH", "file:PATH" or a plain path opens the embedded SQLite file. It does not migrate.
func Open(ctx context.Context, dsn string, opts Options, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.MaxOpenConns == 0 {
		opts.MaxOpenConns = 20
	}
	if opts.StatementTimeout == 0 {
		opts.StatementTimeout = 10 * time.Second
	}
	if opts.BusyTimeout == 0 {
		opts.BusyTimeout = 10 * time.Second
	}
	cfg := &gorm.Config{
		TranslateError:         true,
		SkipDefaultTransaction: true,
		Logger:                 logger.Discard,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	}
	s := &Store{log: log, rebound: new(sync.Map)}
	var err error
	readerDSN := ""
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s.dialect = DialectPostgres
		s.db, err = gorm.Open(postgres.Open(withStatementTimeout(dsn, opts.StatementTimeout)), cfg)
	default:
		s.dialect = DialectSQLite
		var path string
		path, err = sqlitePath(dsn)
		if err != nil {
			return nil, err
		}
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("create database directory: %w", err)
			}
		}
		// Times are written as "YYYY-MM-DD HH:MM:SS.SSS+00:00" (they are UTC, so the text compares in
		// time order) and DATETIME columns read back as time.Time: the same on the writer and the
		// readers, and the same as the driver before modernc.org/sqlite wrote, so older files read on.
		base := url.Values{}
		base.Set("_time_format", "sqlite")
		base.Set("_texttotime", "1")
		// WAL lets readers run beside the writer; the busy timeout turns contention into latency.
		q := maps.Clone(base)
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "synchronous(NORMAL)")
		// The path goes into a file: URI, where '#' and '%' have a meaning: escape it.
		file := "file:" + (&url.URL{Path: path}).EscapedPath()
		s.db, err = gorm.Open(sqlite.Open(file+"?"+q.Encode()), cfg)
		if path != ":memory:" && !strings.Contains(dsn, "mode=memory") { // another connection sees another database
			r := maps.Clone(base)
			r.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
			r.Add("_pragma", "query_only(1)")
			readerDSN = file + "?" + r.Encode()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", s.dialect, err)
	}
	s.sqlDB, err = s.db.DB()
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", s.dialect, err)
	}
	if s.dialect == DialectSQLite {
		// One connection serialises writes, so concurrent sign-ins queue instead of failing with
		// "database is locked". The hottest reads have their own read-only connections (below).
		s.sqlDB.SetMaxOpenConns(1)
	} else {
		s.sqlDB.SetMaxOpenConns(opts.MaxOpenConns)
		s.sqlDB.SetMaxIdleConns(opts.MaxOpenConns)
		s.sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	if err := s.sqlDB.PingContext(ctx); err != nil {
		s.sqlDB.Close()
		return nil, fmt.Errorf("connect to %s database: %w", s.dialect, err)
	}
	if readerDSN != "" {
		// WAL lets these read while the writer writes: the hot reads (hotpaths.go) no longer queue
		// behind write transactions. Each query sees every transaction committed before it began.
		if s.reader, err = sql.Open(sqlite.DriverName, readerDSN); err == nil {
			s.reader.SetMaxOpenConns(4)
			s.reader.SetMaxIdleConns(4)
			err = s.reader.PingContext(ctx)
		}
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("open sqlite read connections: %w", err)
		}
		s.reads = &stmtCache{db: s.reader}
	}
	if s.dialect == DialectSQLite {
		s.writes = &stmtCache{db: s.sqlDB}
	}
	return s, nil
}

func sqlitePath(dsn string) (string, error) {
	p := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "file:")
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if p == "" {
		return "", errors.New("database: empty SQLite path")
	}
	return p, nil
}

func withStatementTimeout(dsn string, d time.Duration) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn // the driver reports the parse error with context
	}
	q := u.Query()
	if q.Get("statement_timeout") == "" {
		q.Set("statement_timeout", fmt.Sprint(d.Milliseconds()))
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Dialect names the database in use ("sqlite" or "postgres").
func (s *Store) Dialect() string { return s.dialect }

// Close releases the connections.
func (s *Store) Close() error {
	for _, c := range []*stmtCache{s.writes, s.reads} {
		if c != nil {
			c.close()
		}
	}
	var err error
	if s.reader != nil {
		err = s.reader.Close()
	}
	return errors.Join(s.sqlDB.Close(), err)
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.sqlDB.PingContext(ctx) }

// inTx runs fn in a transaction and retries it when PostgreSQL (or a distributed PostgreSQL-compatible
// database) reports a serialization failure or deadlock (retried: once when the Store is already bound
// to a transaction, whose owner retries the whole).
func (s *Store) inTx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return s.retried(ctx, func() error { return s.db.WithContext(ctx).Transaction(fn) })
}

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

// translate maps gorm errors to our sentinels, keeping the original for the log.
func translate(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return fmt.Errorf("%s: %w", op, ErrAlreadyExists)
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
}

func (s *Store) ctx(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// InTx runs fn with a Store bound to one transaction: every method called on it commits or rolls back
// together (retried on serialization failures). Use it to write a change and its audit event at once.
func (s *Store) InTx(ctx context.Context, fn func(tx *Store) error) error {
	return s.inTx(ctx, func(tx *gorm.DB) error {
		bound := *s
		bound.db = tx
		return fn(&bound)
	})
}

package storage

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
)

// The hot paths' SQL (sign-in steps, tokens, throttles) runs through database/sql directly. On SQLite
// each of those statements stays prepared: modernc.org/sqlite keeps a prepared statement's compiled
// program between executions, where a plain query parses and plans its text every time (about a third
// of the database CPU of a sign-in). PostgreSQL's driver (pgx) already caches its prepared statements
// per connection by their text, so there only the text's '$n' form is kept, to build it once.

// stmtCache holds the prepared statements of one SQLite pool, by SQL text (a bounded set: constants).
type stmtCache struct {
	db *sql.DB
	m  sync.Map // string → *sql.Stmt
}

func (c *stmtCache) lookup(q string) *sql.Stmt {
	if st, ok := c.m.Load(q); ok {
		return st.(*sql.Stmt)
	}
	return nil
}

// prepare returns q prepared on the pool. It needs a free connection: never call it while holding the
// writer's one connection in a transaction.
func (c *stmtCache) prepare(ctx context.Context, q string) (*sql.Stmt, error) {
	if st := c.lookup(q); st != nil {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if prev, loaded := c.m.LoadOrStore(q, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

func (c *stmtCache) close() {
	c.m.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
}

// execOn runs the statement q ('?' placeholders) on pool: the writer (the Store's pool) or a
// transaction on it.
func (s *Store) execOn(ctx context.Context, pool sqlPool, q string, args ...any) (sql.Result, error) {
	if st, err := s.stmtFor(ctx, pool, s.writes, q); err != nil {
		return nil, err
	} else if st != nil {
		return st.ExecContext(ctx, args...)
	}
	return pool.ExecContext(ctx, s.rebind(q), args...)
}

// queryRowOn runs the single-row query q on pool (the writer, a transaction on it, or SQLite's read
// connections).
func (s *Store) queryRowOn(ctx context.Context, pool sqlPool, cache *stmtCache, q string, args ...any) *sql.Row {
	if st, err := s.stmtFor(ctx, pool, cache, q); err == nil && st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	// PostgreSQL, or a statement that failed to prepare: the query reports the error.
	return pool.QueryRowContext(ctx, s.rebind(q), args...)
}

// stmtFor returns q prepared for pool, or nil to run the text (PostgreSQL; or inside a transaction
// a statement not prepared yet, since preparing it would wait for the connection the transaction
// holds: it runs unprepared this once and is prepared at its first use outside one).
func (s *Store) stmtFor(ctx context.Context, pool sqlPool, cache *stmtCache, q string) (*sql.Stmt, error) {
	if cache == nil {
		return nil, nil
	}
	if tx, ok := pool.(*sql.Tx); ok {
		if st := cache.lookup(q); st != nil {
			return tx.StmtContext(ctx, st), nil
		}
		return nil, nil
	}
	return cache.prepare(ctx, q)
}

// prepareWrites prepares the statements a transaction on the writer will run, before it holds the
// connection (a no-op on PostgreSQL, or when the Store is already bound to a transaction).
func (s *Store) prepareWrites(ctx context.Context, qs ...string) {
	if s.writes == nil {
		return
	}
	if _, inTx := s.db.Statement.ConnPool.(*sql.Tx); inTx {
		return
	}
	for _, q := range qs {
		_, _ = s.writes.prepare(ctx, q) // a failure shows when the statement runs
	}
}

// pool is the writer, or the transaction of a Store bound to one (InTx).
func (s *Store) pool() sqlPool { return s.db.Statement.ConnPool.(sqlPool) }

// sqlPool is what *sql.DB and *sql.Tx have in common here.
type sqlPool interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// rebind turns the '?' placeholders of q into PostgreSQL's $1, $2, ... (none of our SQL has a '?'
// elsewhere), once per text.
func (s *Store) rebind(q string) string {
	if s.dialect != DialectPostgres {
		return q
	}
	if r, ok := s.rebound.Load(q); ok {
		return r.(string)
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	s.rebound.Store(q, b.String())
	return b.String()
}

package app

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/portcullis/portcullis/op"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/telemetry"
)

// Logger is the server's logger: structured (JSON, or text with log_format text) at the configured
// level on w, with the request id of the context on every line.
func Logger(cfg Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "text" {
		return slog.New(telemetry.ContextHandler{Handler: slog.NewTextHandler(w, opts)})
	}
	return slog.New(telemetry.ContextHandler{Handler: slog.NewJSONHandler(w, opts)})
}

// MasterKey returns the configured secret key or, in dev mode without one, the key generated once and
// kept beside the SQLite database. The CLI uses it to seal what the server will open.
func MasterKey(cfg Config) ([]byte, error) { return masterKey(cfg) }

// NewKeys builds the signing key manager over st, sealing private keys exactly as New does (the
// "signing-key" sealer under the master key), so that keys the CLI makes are the server's keys.
func NewKeys(cfg Config, st *storage.Store, now func() time.Time) (*op.Keys, error) {
	master, err := masterKey(cfg)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return newKeys(master, st, now)
}

func newKeys(master []byte, st *storage.Store, now func() time.Time) (*op.Keys, error) {
	sealer, err := secret.NewSealer(master, "signing-key")
	if err != nil {
		return nil, err
	}
	return &op.Keys{Store: st, Sealer: sealer, Now: now}, nil
}

// Migrate opens the configured database, applies the pending migrations and closes it again. It
// reports how many migrations ran.
func Migrate(ctx context.Context, cfg Config, log *slog.Logger) (int, error) {
	st, err := storage.Open(ctx, cfg.Database, storage.Options{MaxOpenConns: cfg.DatabaseMaxConns}, log)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	return st.Migrate(ctx)
}

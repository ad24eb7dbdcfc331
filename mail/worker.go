package mail

import (
	"context"
	"log/slog"
	"time"

	"github.com/portcullis/portcullis/storage"
)

// Outbox is the part of the storage the worker uses; *storage.Store implements it.
type Outbox interface {
	ClaimMail(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]storage.OutboxMail, error)
	MarkMailSent(ctx context.Context, id, owner string, now time.Time) error
	MarkMailFailed(ctx context.Context, id, owner string, next time.Time, reason string) error
}

// Defaults of the worker.
const (
	DefaultPoll       = 2 * time.Second
	DefaultLease      = 2 * time.Minute
	DefaultFirstRetry = 15 * time.Second
	DefaultMaxRetry   = 5 * time.Minute
)

// Worker sends the outbox. Any number of workers (on any number of instances) may run on one outbox:
// each message is claimed by one of them at a time with a lease, and marked sent once. A worker that
// dies mid-send leaves the lease to expire, and another one sends the message then (so a crash between
// the SMTP server's acceptance and the mark can repeat one message; nothing else does).
type Worker struct {
	Outbox Outbox
	Sender Sender
	Now    func() time.Time
	Log    *slog.Logger

	Poll       time.Duration // how often to look for due mail (default 2 s)
	Lease      time.Duration // how long a claim holds; longer than a send can take (default 2 min)
	FirstRetry time.Duration // the wait after the first failure, doubling after each (default 15 s)
	MaxRetry   time.Duration // the cap of that wait (default 5 min)
	Batch      int           // messages per claim (default 10)
}

func (w *Worker) defaults() {
	if w.Now == nil {
		w.Now = time.Now
	}
	if w.Log == nil {
		w.Log = slog.New(slog.DiscardHandler)
	}
	if w.Poll <= 0 {
		w.Poll = DefaultPoll
	}
	if w.Lease <= 0 {
		w.Lease = DefaultLease
	}
	if w.FirstRetry <= 0 {
		w.FirstRetry = DefaultFirstRetry
	}
	if w.MaxRetry <= 0 {
		w.MaxRetry = DefaultMaxRetry
	}
	if w.Batch <= 0 {
		w.Batch = 10
	}
}

// Backoff is the wait before the next attempt after a message failed attempts times (1, 2, ...):
// first, doubling, capped at max.
func Backoff(attempts int, first, max time.Duration) time.Duration {
	d := first
	for i := 1; i < attempts && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// Run sends due mail every Poll until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	w.defaults()
	t := time.NewTicker(w.Poll)
	defer t.Stop()
	for {
		w.RunOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce claims the due messages and tries each once; it returns how many were sent.
func (w *Worker) RunOnce(ctx context.Context) int {
	w.defaults()
	owner := storage.NewID() // one owner per claim: a late mark of an expired lease cannot touch a newer one
	msgs, err := w.Outbox.ClaimMail(ctx, owner, w.Now(), w.Lease, w.Batch)
	if err != nil {
		w.Log.ErrorContext(ctx, "claim mail", "err", err)
	}
	sent := 0
	for _, m := range msgs {
		sctx, cancel := context.WithTimeout(ctx, w.Lease/2)
		err := w.Sender.Send(sctx, m)
		cancel()
		if err != nil {
			next := w.Now().Add(Backoff(m.Attempts+1, w.FirstRetry, w.MaxRetry))
			w.Log.WarnContext(ctx, "send mail", "mail", m, "attempt", m.Attempts+1, "retry_at", next, "err", err)
			if err := w.Outbox.MarkMailFailed(ctx, m.ID, owner, next, err.Error()); err != nil {
				w.Log.ErrorContext(ctx, "mark mail failed", "mail", m, "err", err)
			}
			continue
		}
		if err := w.Outbox.MarkMailSent(ctx, m.ID, owner, w.Now()); err != nil {
			w.Log.ErrorContext(ctx, "mark mail sent", "mail", m, "err", err)
			continue
		}
		sent++
		w.Log.InfoContext(ctx, "mail sent", "mail", m)
	}
	return sent
}

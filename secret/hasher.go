package secret

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"
)

// ErrBusy means a password hash could not start in time: as many hashes as allowed are running and the
// queue is full or the wait ran out. Callers answer 503 with Retry-After rather than pile up work.
var ErrBusy = errors.New("password hashing is busy")

// Hasher runs argon2id hashes (19 MiB each) with bounded concurrency: at most Limit at once, at most
// Queue waiting, each waiting at most Wait. Without a bound, 1,000 concurrent sign-ins would ask for
// ~19 GiB and every one of them would be slower than if they had queued. Safe for concurrent use; a nil
// *Hasher hashes without bounds (tools and tests).
type Hasher struct {
	run   chan struct{} // a token per running hash
	queue chan struct{} // a token per running or waiting hash
	wait  time.Duration
}

// HasherOptions bound a Hasher. Zero values take the defaults.
type HasherOptions struct {
	Limit int           // hashes at once; default runtime.GOMAXPROCS(0)
	Queue int           // hashes waiting for a slot; default 32 per slot
	Wait  time.Duration // longest wait for a slot; default 2s
}

// NewHasher returns a Hasher with the given bounds.
func NewHasher(o HasherOptions) *Hasher {
	if o.Limit <= 0 {
		o.Limit = runtime.GOMAXPROCS(0)
	}
	if o.Queue <= 0 {
		o.Queue = 32 * o.Limit
	}
	if o.Wait <= 0 {
		o.Wait = 2 * time.Second
	}
	return &Hasher{run: make(chan struct{}, o.Limit), queue: make(chan struct{}, o.Limit+o.Queue), wait: o.Wait}
}

// acquire waits for a slot; release must be called when the hash is done.
func (h *Hasher) acquire(ctx context.Context) (release func(), err error) {
	if h == nil {
		return func() {}, nil
	}
	select {
	case h.queue <- struct{}{}:
	default:
		return nil, ErrBusy // the queue is full: refuse at once
	}
	select {
	case h.run <- struct{}{}: // fast path: a free slot
		return h.release, nil
	default:
	}
	t := time.NewTimer(h.wait)
	defer t.Stop()
	select {
	case h.run <- struct{}{}:
		return h.release, nil
	case <-t.C:
		<-h.queue
		return nil, ErrBusy
	case <-ctx.Done():
		<-h.queue
		return nil, fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	}
}

func (h *Hasher) release() {
	<-h.run
	<-h.queue
}

// Hash is HashPassword within the bounds; ErrBusy when no slot came free in time.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	release, err := h.acquire(ctx)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	defer release()
	return HashPassword(pw)
}

// Verify is VerifyPassword within the bounds; ErrBusy when no slot came free in time.
func (h *Hasher) Verify(ctx context.Context, encoded, pw string) (bool, error) {
	if _, err := parsePHC(encoded); err != nil {
		return false, err // no slot for a hash that cannot be used
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("verify password: %w", err)
	}
	defer release()
	return VerifyPassword(encoded, pw)
}

// DummyVerify is DummyVerify within the bounds, so an unknown email queues like a known one.
func (h *Hasher) DummyVerify(ctx context.Context, pw string) error {
	release, err := h.acquire(ctx)
	if err != nil {
		return fmt.Errorf("verify password: %w", err)
	}
	defer release()
	DummyVerify(pw)
	return nil
}

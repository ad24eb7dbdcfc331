package secret

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The Hasher admits Limit at once, queues Queue more for at most Wait, and refuses the rest at once.
func TestHasherBounds(t *testing.T) {
	h := NewHasher(HasherOptions{Limit: 1, Queue: 1, Wait: 500 * time.Millisecond})
	ctx := context.Background()
	release, err := h.acquire(ctx) // the one slot is taken
	if err != nil {
		t.Fatal(err)
	}
	queued := make(chan error, 1)
	go func() { _, err := h.Hash(ctx, "pw"); queued <- err }()           // waits in the queue
	for deadline := time.Now().Add(5 * time.Second); len(h.queue) < 2; { // wait until it is queued
		if time.Now().After(deadline) {
			t.Fatal("the second hash never queued")
		}
		runtime.Gosched()
	}
	if _, err := h.Verify(ctx, dummyHash, "pw"); !errors.Is(err, ErrBusy) {
		t.Errorf("over the queue: got %v, want ErrBusy", err)
	}
	if err := <-queued; !errors.Is(err, ErrBusy) {
		t.Errorf("queued past the wait: got %v, want ErrBusy", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := h.DummyVerify(cctx, "pw"); !errors.Is(err, ErrBusy) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled while waiting: got %v", err)
	}
	release()
	if ok, err := h.Verify(ctx, dummyHash, "pw"); err != nil || ok {
		t.Errorf("after release: %v %v", ok, err)
	}
	// A malformed hash is refused without taking a slot.
	if _, err := h.Verify(ctx, "$argon2id$x", "pw"); !errors.Is(err, ErrMalformedHash) {
		t.Errorf("malformed: %v", err)
	}
}

// Many callers: never more than Limit hashes at once, and every caller gets a hash or ErrBusy.
func TestHasherNeverExceedsLimit(t *testing.T) {
	h := NewHasher(HasherOptions{Limit: 2, Queue: 4, Wait: time.Minute})
	var running, most atomic.Int32
	var wg sync.WaitGroup
	var ok, busy atomic.Int32
	for range 20 {
		wg.Go(func() {
			release, err := h.acquire(context.Background())
			if err != nil {
				busy.Add(1)
				return
			}
			n := running.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
			running.Add(-1)
			release()
			ok.Add(1)
		})
	}
	wg.Wait()
	if most.Load() > 2 {
		t.Errorf("%d hashes at once, limit 2", most.Load())
	}
	if ok.Load()+busy.Load() != 20 || ok.Load() < 6 {
		t.Errorf("ok %d busy %d", ok.Load(), busy.Load())
	}
}

// The keyed hash is deterministic per key and purpose and differs across either.
func TestKeyedHash(t *testing.T) {
	a, err := NewKeyedHash(testKey(1), "recovery-codes")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewKeyedHash(testKey(2), "recovery-codes")
	c, _ := NewKeyedHash(testKey(1), "other")
	s := a.Sum("abcd-efgh-jkmn")
	if !strings.HasPrefix(s, KeyedHashPrefix) || len(s) != len(KeyedHashPrefix)+64 || s != a.Sum("abcd-efgh-jkmn") {
		t.Fatalf("Sum = %q", s)
	}
	if !a.Equal(s, "abcd-efgh-jkmn") || a.Equal(s, "abcd-efgh-jkmp") || b.Equal(s, "abcd-efgh-jkmn") || c.Equal(s, "abcd-efgh-jkmn") {
		t.Error("Equal does not separate codes, keys or purposes")
	}
	if _, err := NewKeyedHash(testKey(1)[:16], "x"); err == nil {
		t.Error("short master key accepted")
	}
}

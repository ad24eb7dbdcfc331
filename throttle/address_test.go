package throttle

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

var _ AddressStore = (*storage.Store)(nil)

func TestAddressPolicyDefaults(t *testing.T) {
	p := DefaultAddressPolicy()
	if p.Accounts != 100 || p.Window != time.Hour || p.Interval() != 36*time.Second {
		t.Errorf("DefaultAddressPolicy = %+v, interval %v; want 100 accounts per hour, one per 36s beyond", p, p.Interval())
	}
}

func TestAccount(t *testing.T) {
	tests := []struct {
		name        string
		a, b        string
		wantSameKey bool
	}{
		{name: "case and spaces do not matter", a: Account("t1", "Ann@Acme.test"), b: Account("t1", " ann@acme.test "), wantSameKey: true},
		{name: "another email", a: Account("t1", "ann@acme.test"), b: Account("t1", "bob@acme.test")},
		{name: "another tenant", a: Account("t1", "ann@acme.test"), b: Account("t2", "ann@acme.test")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.a == tc.b) != tc.wantSameKey {
				t.Errorf("Account keys %q and %q: same %v, want %v", tc.a, tc.b, tc.a == tc.b, tc.wantSameKey)
			}
			if len(tc.a) != 32 {
				t.Errorf("Account key %q: want 32 hex digits", tc.a)
			}
		})
	}
}

// An office behind one NAT address: 200 failed passwords spread over 50 users within an hour never
// slow the address down, so a correct sign-in from there is not refused for the address's sake.
func TestAddressOfficeNotSlowed(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	l := &AddressLimiter{Store: storagetest.NewSQLite(t), Policy: DefaultAddressPolicy(), Now: clk.Now}
	key := PasswordAddrKey("203.0.113.7")
	for i := range 200 {
		if err := l.Check(ctx, key); err != nil {
			t.Fatalf("failure %d: Check = %v, want nil", i+1, err)
		}
		if err := l.Fail(ctx, key, Account("t1", fmt.Sprintf("user%d@acme.test", i%50))); err != nil {
			t.Fatal(err)
		}
		clk.Advance(18 * time.Second) // 200 in an hour
	}
	if err := l.Check(ctx, key); err != nil {
		t.Fatalf("after 200 failures over 50 users: Check = %v, want nil", err)
	}
}

// A spray of one password over 1,000 emails from one address: the first Accounts go at once, every
// later one waits for its slot (never longer than one Interval, never a lockout), so the spray takes
// (1000-100)*36s = 9h; another address is not affected, and once the spray stops the address drains.
func TestAddressSpraySlowedToPolicyRate(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	policy := DefaultAddressPolicy()
	l := &AddressLimiter{Store: storagetest.NewSQLite(t), Policy: policy, Now: clk.Now}
	key, other := PasswordAddrKey("203.0.113.66"), PasswordAddrKey("203.0.113.67")
	start := clk.Now()
	var refusals int
	var firstWait time.Time
	for i := 0; i < 1000; {
		err := l.Check(ctx, key)
		if le, ok := IsLocked(err); ok {
			if le.Lockout {
				t.Fatalf("account %d: a lockout, want only a delay", i+1)
			}
			wait := le.RetryAfter(clk.Now())
			if wait > policy.Interval() {
				t.Fatalf("account %d: Retry-After %v, want at most %v", i+1, wait, policy.Interval())
			}
			if firstWait.IsZero() {
				firstWait = clk.Now()
			}
			refusals++
			clk.Advance(wait)
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		if err := l.Fail(ctx, key, Account("t1", fmt.Sprintf("nobody%d@acme.test", i))); err != nil {
			t.Fatal(err)
		}
		i++
	}
	took := clk.Now().Sub(start)
	want := time.Duration(1000-policy.Accounts) * policy.Interval()
	if took < want-policy.Interval() || took > want+policy.Interval() {
		t.Errorf("1000 accounts took %v, want about %v (a burst of %d, then one per %v)", took, want, policy.Accounts, policy.Interval())
	}
	if firstWait != start {
		t.Errorf("the first wait came %v into the spray, want after the burst of %d at once", firstWait.Sub(start), policy.Accounts)
	}
	if refusals < 1000-policy.Accounts {
		t.Errorf("%d refusals, want at least %d", refusals, 1000-policy.Accounts)
	}
	if err := l.Check(ctx, other); err != nil {
		t.Errorf("another address: Check = %v, want nil", err)
	}
	// An account that already failed from the address within the window uses no slot.
	clk.Advance(policy.Interval())
	if err := l.Fail(ctx, key, Account("t1", "nobody999@acme.test")); err != nil {
		t.Fatal(err)
	}
	if err := l.Check(ctx, key); err != nil {
		t.Errorf("after a repeated account: Check = %v, want nil", err)
	}
	// The spray stops: the address drains, and a full burst is allowed again after one window.
	clk.Advance(policy.Window)
	for i := range policy.Accounts {
		if err := l.Check(ctx, key); err != nil {
			t.Fatalf("after the window, account %d: Check = %v, want nil", i+1, err)
		}
		if err := l.Fail(ctx, key, Account("t1", fmt.Sprintf("again%d@acme.test", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := IsLocked(l.Check(ctx, key)); !ok {
		t.Error("after another full burst: not slowed, want slowed")
	}
}

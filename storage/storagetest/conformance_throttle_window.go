package storagetest

import (
	"testing"
	"time"

	"github.com/portcullis/portcullis/storage"
)

// testThrottleWindow covers the per-address window: distinct failing accounts and the pace.
func testThrottleWindow(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	t0 := now().Truncate(time.Millisecond)
	const key, other = "pwd:ip:192.0.2.1", "pwd:ip:192.0.2.2"
	for _, tc := range []struct {
		name    string
		key     string
		account string
		at      time.Time
		wantNew bool
	}{
		{"first failure of an account", key, "a", t0, true},
		{"same account within the window", key, "a", t0.Add(59 * time.Minute), false},
		{"another account", key, "b", t0.Add(time.Minute), true},
		{"same account from another address", other, "a", t0.Add(time.Minute), true},
		{"same account once the window is over", key, "a", t0.Add(time.Hour), true},
		{"and counted again from then on", key, "a", t0.Add(time.Hour + time.Minute), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := st.ThrottleAccountFailed(ctx, tc.key, tc.account, tc.at, time.Hour)
			wantErr(t, "ThrottleAccountFailed", err, nil)
			if got != tc.wantNew {
				t.Errorf("ThrottleAccountFailed = %v, want %v", got, tc.wantNew)
			}
		})
	}

	zero, err := st.ThrottlePaceOf(ctx, key)
	wantErr(t, "ThrottlePaceOf of an unknown key", err, nil)
	if !zero.IsZero() {
		t.Errorf("ThrottlePaceOf of an unknown key = %v, want zero", zero)
	}
	for _, tc := range []struct {
		name string
		at   time.Time
		want time.Time
	}{
		{"first step starts from now", t0, t0.Add(36 * time.Second)},
		{"steps add up ahead of now", t0.Add(time.Second), t0.Add(72 * time.Second)},
		{"a drained pace starts from now again", t0.Add(time.Hour), t0.Add(time.Hour + 36*time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := st.ThrottlePace(ctx, key, tc.at, 36*time.Second)
			wantErr(t, "ThrottlePace", err, nil)
			wantTime(t, "ThrottlePace", got, tc.want)
			stored, err := st.ThrottlePaceOf(ctx, key)
			wantErr(t, "ThrottlePaceOf", err, nil)
			wantTime(t, "ThrottlePaceOf", stored, tc.want)
		})
	}

	// The sweep forgets accounts past their window and drained paces, and keeps the rest.
	_, err = st.ThrottlePace(ctx, other, t0, time.Second)
	wantErr(t, "ThrottlePace other", err, nil)
	live, err := st.ThrottlePace(ctx, key, t0.Add(time.Hour+time.Minute), 36*time.Second)
	wantErr(t, "ThrottlePace", err, nil)
	wantTime(t, "ThrottlePace of a drained pace", live, t0.Add(time.Hour+96*time.Second))
	sweepAt := t0.Add(time.Hour + 65*time.Second)
	n, err := st.Sweep(ctx, sweepAt)
	wantErr(t, "Sweep", err, nil)
	if n != 3 { // accounts b and a of other (counted at t0+1m for 1h), the pace of other (t0+1s)
		t.Errorf("Sweep removed %d rows, want 3", n)
	}
	if p, _ := st.ThrottlePaceOf(ctx, key); !p.Equal(live) {
		t.Errorf("a live pace after the sweep = %v", p)
	}
	if p, _ := st.ThrottlePaceOf(ctx, other); !p.IsZero() {
		t.Errorf("a drained pace after the sweep = %v, want gone", p)
	}
	got, err := st.ThrottleAccountFailed(ctx, key, "a", sweepAt, time.Hour)
	wantErr(t, "ThrottleAccountFailed after the sweep", err, nil)
	if got {
		t.Error("the sweep removed an account still in its window")
	}
}

// testConcurrentThrottleWindow: racers on one new account see it new exactly once, and racers on the
// pace all count.
func testConcurrentThrottleWindow(t *testing.T, st *storage.Store) {
	at := now().Truncate(time.Millisecond)
	news := make([]bool, racers)
	errs := race(func(i int) error {
		var err error
		news[i], err = st.ThrottleAccountFailed(t.Context(), "pwd:ip:192.0.2.1", "a", at, time.Hour)
		return err
	})
	winners := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("racer %d: ThrottleAccountFailed: %v", i, err)
		}
		if news[i] {
			winners++
		}
	}
	if winners != 1 {
		t.Errorf("%d racers saw the account new, want exactly 1", winners)
	}
	errs = race(func(int) error {
		_, err := st.ThrottlePace(t.Context(), "pwd:ip:192.0.2.1", at, time.Second)
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("racer %d: ThrottlePace: %v", i, err)
		}
	}
	got, err := st.ThrottlePaceOf(t.Context(), "pwd:ip:192.0.2.1")
	wantErr(t, "ThrottlePaceOf", err, nil)
	wantTime(t, "pace after the race", got, at.Add(racers*time.Second))
}

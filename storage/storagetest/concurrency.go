package storagetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/storage"
)

// racers is how many goroutines race one compare-and-set.
const racers = 16

// RunConcurrencyTests races many goroutines on each security-critical compare-and-set and checks that
// exactly one wins (dexidp/dex conformance RunConcurrencyTests); open must return a fresh, migrated store.
func RunConcurrencyTests(t *testing.T, open func(testing.TB) *storage.Store) {
	runTests(t, open, []subTest{
		{"ConsumeCode", testConcurrentConsumeCode},
		{"AcceptStep", testConcurrentAcceptStep},
		{"RotateRefreshToken", testConcurrentRotateRefreshToken},
		{"ThrottleFail", testConcurrentThrottleFail},
		{"ThrottleAttempt", testConcurrentThrottleAttempt},
		{"ThrottleWindow", testConcurrentThrottleWindow},
		{"UseRecoveryCode", testConcurrentUseRecoveryCode},
		{"BindAuthRequest", testConcurrentBindAuthRequest},
		{"RecordLogin", testConcurrentRecordLogin},
		{"SaveAuthCode", testConcurrentSaveAuthCode},
		{"RevokeGrantAndRotation", testConcurrentRevokeGrantAndRotation},
		{"RevokeGrantAndCodeTokens", testConcurrentRevokeGrantAndCodeTokens},
		{"UpdateUser", testConcurrentUpdateUser},
		{"RevokeUserTokensAndWrites", testConcurrentRevokeUserTokensAndWrites},
		{"LockUserCappedMail", testConcurrentLockUserCappedMail},
		{"SignInAndReset", testConcurrentSignInAndReset},
	})
}

// race runs fn(i) for i in [0, racers) in goroutines released together, and returns their errors.
func race(fn func(i int) error) []error {
	start := make(chan struct{})
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// wantOneWinner fails unless exactly one error is nil and every other one is ErrConflict.
// It returns the winner's index.
func wantOneWinner(t *testing.T, errs []error) int {
	t.Helper()
	winner, wins := -1, 0
	for i, err := range errs {
		switch {
		case err == nil:
			winner = i
			wins++
		case !errors.Is(err, storage.ErrConflict):
			t.Errorf("racer %d: got %v, want nil or ErrConflict", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d racers won, want exactly 1", wins)
	}
	return winner
}

func testConcurrentConsumeCode(t *testing.T, st *storage.Store) {
	w := newWorld(t, st)
	a := w.mustCodeRequest(t, st, "code", now().Add(time.Minute))
	at := now()
	got := make([]storage.AuthRequest, racers)
	errs := race(func(i int) error {
		var err error
		got[i], err = st.ConsumeCode(t.Context(), "code", at)
		return err
	})
	wantOneWinner(t, errs)
	for i, r := range got {
		if r.ID != a.ID {
			t.Errorf("racer %d: ConsumeCode returned request %q, want %q (winner and losers alike)", i, r.ID, a.ID)
		}
	}
}

func testConcurrentAcceptStep(t *testing.T, st *storage.Store) {
	w := newWorld(t, st)
	a := mustActiveAuthenticator(t, st, w.user, 100)
	at := now()
	wantOneWinner(t, race(func(int) error { return st.AcceptStep(t.Context(), a.ID, 101, at) }))
	got, err := st.AuthenticatorByUser(t.Context(), w.user.ID)
	wantErr(t, "AuthenticatorByUser", err, nil)
	if got.LastStep != 101 {
		t.Errorf("LastStep = %d, want 101", got.LastStep)
	}
}

func testConcurrentRotateRefreshToken(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	at0 := now()
	at, rt := tokenPair("grant", w.user, w.client.ID, at0.Add(time.Hour))
	wantErr(t, "CreateTokens", st.CreateTokens(ctx, at, &rt), nil)
	newATs := make([]storage.AccessToken, racers)
	newRTs := make([]storage.RefreshToken, racers)
	for i := range racers {
		newATs[i], newRTs[i] = tokenPair("grant", w.user, w.client.ID, at0.Add(2*time.Hour))
	}
	winner := wantOneWinner(t, race(func(i int) error {
		return st.RotateRefreshToken(ctx, rt.TokenHash, at0, newATs[i], newRTs[i])
	}))
	for i := range racers {
		_, errAT := st.AccessTokenByID(ctx, newATs[i].ID)
		_, errRT := st.RefreshTokenByHash(ctx, newRTs[i].TokenHash)
		want := storage.ErrNotFound
		if i == winner {
			want = nil
		}
		wantErr(t, "AccessTokenByID of a racer's token", errAT, want)
		wantErr(t, "RefreshTokenByHash of a racer's token", errRT, want)
	}
}

func testConcurrentThrottleFail(t *testing.T, st *storage.Store) {
	at := now()
	counts := make([]int, racers)
	errs := race(func(i int) error {
		th, err := st.ThrottleFail(t.Context(), "otp:user:alice", at, func(n int) time.Duration { return time.Duration(n) * time.Minute })
		counts[i] = th.Failures
		return err
	})
	seen := make(map[int]bool)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("racer %d: ThrottleFail: %v", i, err)
		}
		if seen[counts[i]] {
			t.Errorf("two racers got count %d: a failure was lost", counts[i])
		}
		seen[counts[i]] = true
	}
	got, err := st.Throttle(t.Context(), "otp:user:alice")
	wantErr(t, "Throttle", err, nil)
	if got.Failures != racers {
		t.Errorf("Failures = %d, want %d", got.Failures, racers)
	}
	// The longest lock wins, whatever order the racers' lock updates ran in.
	wantTime(t, "LockedUntil", got.LockedUntil, at.Add(racers*time.Minute))
}

// testConcurrentThrottleAttempt races attempts on one key whose first lock is at the third failure:
// exactly three are let into flight, the others are refused.
func testConcurrentThrottleAttempt(t *testing.T, st *storage.Store) {
	at := now()
	allowed := make([]bool, racers)
	errs := race(func(i int) error {
		_, ok, err := st.ThrottleAttempt(t.Context(), "otp:user:alice", at, 3, at.Add(-time.Minute))
		allowed[i] = ok
		return err
	})
	n := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("racer %d: ThrottleAttempt: %v", i, err)
		}
		if allowed[i] {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d racers were let in, want 3", n)
	}
	got, err := st.Throttle(t.Context(), "otp:user:alice")
	wantErr(t, "Throttle", err, nil)
	if got.Pending != 3 || got.Failures != 0 {
		t.Errorf("counter = %+v, want 3 in flight and no failure", got)
	}
}

func testConcurrentUseRecoveryCode(t *testing.T, st *storage.Store) {
	w := newWorld(t, st)
	wantErr(t, "ReplaceRecoveryCodes", st.ReplaceRecoveryCodes(t.Context(), w.user.ID,
		[]storage.RecoveryCode{{ID: "c1", Hash: "h1"}, {ID: "c2", Hash: "h2"}}, now(), storage.Record{}), nil)
	at := now()
	// Only the winner writes its audit event and its notification (the record shares the transaction).
	wantOneWinner(t, race(func(int) error {
		return st.UseRecoveryCode(t.Context(), "c1", at, storage.Record{
			Audit: &storage.AuditEvent{TenantID: w.tenant.ID, ActorID: w.user.ID, TargetID: w.user.ID, Action: "mfa.recovery_code_used"},
			Mail:  &storage.OutboxMail{TenantID: w.tenant.ID, To: w.user.Email, Subject: "used", Text: "used", Kind: "recovery_code_used", UserID: w.user.ID, CreatedAt: at}})
	}))
	evs, err := st.ListAudit(t.Context(), w.tenant.ID, 0, 100)
	wantErr(t, "ListAudit", err, nil)
	if len(evs) != 1 {
		t.Errorf("%d audit events after the race, want the winner's one", len(evs))
	}
	if n, err := st.CountMail(t.Context(), w.user.ID, "recovery_code_used", at.Add(-time.Minute)); err != nil || n != 1 {
		t.Errorf("%d notifications after the race (%v), want the winner's one", n, err)
	}
	codes, err := st.UnusedRecoveryCodes(t.Context(), w.user.ID)
	wantErr(t, "UnusedRecoveryCodes", err, nil)
	wantEqual(t, "unused codes", ids(codes, func(c storage.RecoveryCode) string { return c.ID }), []string{"c2"})
}

func testConcurrentBindAuthRequest(t *testing.T, st *storage.Store) {
	w := newWorld(t, st)
	a := w.mustAuthRequest(t, st)
	hashes := make([]string, racers)
	for i := range hashes {
		hashes[i] = storage.NewID()
	}
	winner := wantOneWinner(t, race(func(i int) error { return st.BindAuthRequest(t.Context(), a.ID, hashes[i]) }))
	got, err := st.AuthRequestByID(t.Context(), a.ID)
	wantErr(t, "AuthRequestByID", err, nil)
	if got.BrowserHash != hashes[winner] {
		t.Errorf("BrowserHash = %q, want the winner's %q", got.BrowserHash, hashes[winner])
	}
}

func testConcurrentRecordLogin(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	a := w.mustAuthRequest(t, st)
	wantErr(t, "BindAuthRequest", st.BindAuthRequest(ctx, a.ID, "browser"), nil)
	prev, err := st.AuthRequestByID(ctx, a.ID)
	wantErr(t, "AuthRequestByID", err, nil)
	users := make([]storage.User, racers)
	for i := range users {
		users[i] = mustUser(t, st, w.tenant.ID, storage.NewID()+"@example.com")
	}
	winner := wantOneWinner(t, race(func(i int) error {
		return st.RecordLogin(ctx, prev, users[i].ID, []string{factorPassword}, now(), storage.Proof{})
	}))
	got, err := st.AuthRequestByID(ctx, a.ID)
	wantErr(t, "AuthRequestByID", err, nil)
	if got.UserID != users[winner].ID {
		t.Errorf("UserID = %q, want the winner's %q", got.UserID, users[winner].ID)
	}
}

func testConcurrentSaveAuthCode(t *testing.T, st *storage.Store) {
	w := newWorld(t, st)
	a := w.mustAuthRequest(t, st)
	hashes := make([]string, racers)
	for i := range hashes {
		hashes[i] = storage.NewID()
	}
	exp := now().Add(time.Minute)
	winner := wantOneWinner(t, race(func(i int) error { return st.SaveAuthCode(t.Context(), a.ID, hashes[i], exp) }))
	got, err := st.AuthRequestByID(t.Context(), a.ID)
	wantErr(t, "AuthRequestByID", err, nil)
	if got.CodeHash != hashes[winner] {
		t.Errorf("CodeHash = %q, want the winner's %q", got.CodeHash, hashes[winner])
	}
}

// testConcurrentLockUserCappedMail: transactions that lock the user's row (LockUser), then count the
// user's mails and write one below a cap, run one after another: however many race, exactly the cap
// is written. An unknown user is ErrNotFound.
func testConcurrentLockUserCappedMail(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	const capped = 3
	at := now()
	errs := race(func(i int) error {
		return st.InTx(ctx, func(tx *storage.Store) error {
			if _, err := tx.LockUser(ctx, w.user.ID); err != nil {
				return err
			}
			n, err := tx.CountMail(ctx, w.user.ID, "capped", at.Add(-time.Hour))
			if err != nil || n >= capped {
				return err
			}
			_, err = tx.EnqueueMail(ctx, storage.OutboxMail{TenantID: w.tenant.ID, UserID: w.user.ID, Kind: "capped",
				To: w.user.Email, Subject: "s", CreatedAt: at})
			return err
		})
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("racer %d: %v", i, err)
		}
	}
	if n, err := st.CountMail(ctx, w.user.ID, "capped", at.Add(-time.Hour)); err != nil || n != capped {
		t.Errorf("%d mails written by %d racers under a cap of %d (%v)", n, racers, capped, err)
	}
	u, err := st.LockUser(ctx, w.user.ID)
	wantErr(t, "LockUser outside a transaction", err, nil)
	if u.ID != w.user.ID || u.Email != w.user.Email {
		t.Errorf("LockUser read %+v, want %+v", u, w.user)
	}
	_, err = st.LockUser(ctx, "nobody")
	wantErr(t, "LockUser unknown", err, storage.ErrNotFound)
}

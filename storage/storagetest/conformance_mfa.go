package storagetest

import (
	"testing"
	"time"

	"github.com/portcullis/portcullis/storage"
)

func testThrottles(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	const key = "otp:user:alice"
	t0 := now()

	zero, err := st.Throttle(ctx, "pwd:ip:192.0.2.1")
	wantErr(t, "Throttle of an unknown key", err, nil)
	if zero.Failures != 0 || !zero.LockedUntil.IsZero() {
		t.Errorf("Throttle of an unknown key = %+v, want zero", zero)
	}

	lockAt3 := func(n int) time.Duration {
		if n >= 3 {
			return time.Minute
		}
		return 0
	}
	for i, tc := range []struct {
		name         string
		lockFor      func(int) time.Duration
		wantFailures int
		wantLock     time.Time // stored lock; zero means "not locked after t0+i"
	}{
		{"first failure", lockAt3, 1, time.Time{}},
		{"second failure", lockAt3, 2, time.Time{}},
		{"third failure locks", lockAt3, 3, t0.Add(2*time.Second + time.Minute)},
		{"shorter lock keeps the longer", func(int) time.Duration { return time.Second }, 4, t0.Add(2*time.Second + time.Minute)},
		{"longer lock extends", func(int) time.Duration { return time.Hour }, 5, t0.Add(4*time.Second + time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at := t0.Add(time.Duration(i) * time.Second)
			got, err := st.ThrottleFail(ctx, key, at, tc.lockFor)
			wantErr(t, "ThrottleFail", err, nil)
			if got.Failures != tc.wantFailures {
				t.Errorf("ThrottleFail Failures = %d, want %d", got.Failures, tc.wantFailures)
			}
			stored, err := st.Throttle(ctx, key)
			wantErr(t, "Throttle", err, nil)
			if stored.Failures != tc.wantFailures || stored.Key != key {
				t.Errorf("Throttle = %+v, want %d failures", stored, tc.wantFailures)
			}
			wantTime(t, "UpdatedAt", stored.UpdatedAt, at)
			if tc.wantLock.IsZero() {
				if stored.LockedUntil.After(at) {
					t.Errorf("LockedUntil = %v, want no lock after %v", stored.LockedUntil, at)
				}
			} else {
				wantTime(t, "LockedUntil", stored.LockedUntil, tc.wantLock)
			}
		})
	}

	other, err := st.ThrottleFail(ctx, "pwd:user:alice", t0, lockAt3)
	wantErr(t, "ThrottleFail other key", err, nil)
	if other.Failures != 1 {
		t.Errorf("other key Failures = %d, want 1", other.Failures)
	}
	wantErr(t, "ThrottleReset", st.ThrottleReset(ctx, key), nil)
	got, err := st.Throttle(ctx, key)
	wantErr(t, "Throttle after reset", err, nil)
	if got.Failures != 0 || !got.LockedUntil.IsZero() {
		t.Errorf("Throttle after reset = %+v, want zero", got)
	}
	wantErr(t, "ThrottleReset of an unknown key", st.ThrottleReset(ctx, "nope"), nil)
	got, err = st.Throttle(ctx, "pwd:user:alice")
	wantErr(t, "Throttle other key", err, nil)
	if got.Failures != 1 {
		t.Errorf("ThrottleReset touched another key: %+v", got)
	}
	again, err := st.ThrottleFail(ctx, key, t0, lockAt3)
	wantErr(t, "ThrottleFail after reset", err, nil)
	if again.Failures != 1 {
		t.Errorf("Failures after reset = %d, want 1", again.Failures)
	}
}

func testAuthenticators(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	bob := mustUser(t, st, w.tenant.ID, "bob@example.com")

	// Two sign-ins of one user each get their own pending secret; neither replaces the other.
	first := mustPendingEnrolment(t, st, w.user, "secret-1")
	second := mustPendingEnrolment(t, st, w.user, "secret-2")
	for _, p := range []storage.PendingEnrolment{first, second} {
		got, err := st.PendingEnrolment(ctx, p.AuthRequestID)
		wantErr(t, "PendingEnrolment", err, nil)
		wantEqual(t, "pending enrolment", got, p)
	}
	dup := first
	dup.ID, dup.SecretSealed = storage.NewID(), []byte("thief")
	wantErr(t, "CreatePendingEnrolment for a sign-in that has one", st.CreatePendingEnrolment(ctx, dup), storage.ErrAlreadyExists)
	got, err := st.AuthenticatorByUser(ctx, w.user.ID)
	wantErr(t, "AuthenticatorByUser while pending", err, nil)
	if got.State != storage.AuthenticatorPending || got.ID != "" || got.SecretSealed != nil {
		t.Errorf("AuthenticatorByUser while pending = %+v, want state pending without a secret", got)
	}

	t.Run("activation needs a step", func(t *testing.T) {
		_, err := st.ActivateAuthenticator(ctx, storage.Activation{PendingID: second.ID, Step: 0, Now: now()})
		wantErr(t, "ActivateAuthenticator at step 0", err, storage.ErrConflict)
	})

	activated := now()
	codes := []storage.RecoveryCode{{Hash: "h1"}, {Hash: "h2"}}
	act, err := st.ActivateAuthenticator(ctx, storage.Activation{PendingID: second.ID, Step: 100, Now: activated,
		ClientID: "app-1", Address: "192.0.2.7", Codes: codes})
	wantErr(t, "ActivateAuthenticator", err, nil)
	got, err = st.AuthenticatorByUser(ctx, w.user.ID)
	wantErr(t, "AuthenticatorByUser", err, nil)
	wantEqual(t, "activated authenticator", got, act)
	if got.State != storage.AuthenticatorActive || got.LastStep != 100 || string(got.SecretSealed) != "secret-2" ||
		got.EnrolledClientID != "app-1" || got.EnrolledAddress != "192.0.2.7" {
		t.Errorf("activated authenticator = %+v, want active at step 100 with the second secret, enrolled from app-1", got)
	}
	if got.ConfirmedAt == nil || !got.ConfirmedAt.Equal(activated) {
		t.Errorf("ConfirmedAt = %v, want %v", got.ConfirmedAt, activated)
	}
	// Nothing pending remains: the other sign-in's secret is gone and can never be activated.
	_, err = st.PendingEnrolment(ctx, first.AuthRequestID)
	wantErr(t, "PendingEnrolment of the other sign-in", err, storage.ErrNotFound)
	_, err = st.ActivateAuthenticator(ctx, storage.Activation{PendingID: first.ID, Step: 101, Now: now()})
	wantErr(t, "ActivateAuthenticator of the other sign-in", err, storage.ErrNotFound)
	rc, err := st.UnusedRecoveryCodes(ctx, w.user.ID)
	wantErr(t, "UnusedRecoveryCodes", err, nil)
	if len(rc) != 2 {
		t.Errorf("UnusedRecoveryCodes = %d codes, want 2", len(rc))
	}

	t.Run("pending enrolment over an active authenticator", func(t *testing.T) {
		cl := mustClient(t, st, w.tenant.ID, "thief")
		a := world{tenant: w.tenant, user: w.user, client: cl}.mustAuthRequest(t, st)
		err := st.CreatePendingEnrolment(ctx, storage.PendingEnrolment{AuthRequestID: a.ID, UserID: w.user.ID, TenantID: w.tenant.ID,
			SecretSealed: []byte("thief"), CreatedAt: now()})
		wantErr(t, "CreatePendingEnrolment", err, storage.ErrConflict)
		got, err := st.AuthenticatorByUser(ctx, w.user.ID)
		wantErr(t, "AuthenticatorByUser", err, nil)
		if got.ID != act.ID || got.LastStep != 100 || string(got.SecretSealed) != "secret-2" {
			t.Errorf("authenticator changed: %+v", got)
		}
	})

	t.Run("two enrolments race: one wins", func(t *testing.T) {
		p1 := mustPendingEnrolment(t, st, bob, "bob-1")
		p2 := mustPendingEnrolment(t, st, bob, "bob-2")
		_, err := st.ActivateAuthenticator(ctx, storage.Activation{PendingID: p1.ID, Step: 10, Now: now()})
		wantErr(t, "ActivateAuthenticator first", err, nil)
		_, err = st.ActivateAuthenticator(ctx, storage.Activation{PendingID: p2.ID, Step: 11, Now: now()})
		wantErr(t, "ActivateAuthenticator second", err, storage.ErrNotFound)
		got, _ := st.AuthenticatorByUser(ctx, bob.ID)
		if string(got.SecretSealed) != "bob-1" {
			t.Errorf("bob's authenticator = %q, want the first", got.SecretSealed)
		}
	})

	carol := mustUser(t, st, w.tenant.ID, "carol@example.com")
	mustPendingEnrolment(t, st, carol, "carol")
	byUsers, err := st.AuthenticatorsByUsers(ctx, []string{w.user.ID, carol.ID, "nobody"})
	wantErr(t, "AuthenticatorsByUsers", err, nil)
	if len(byUsers) != 2 || byUsers[w.user.ID].ID != act.ID || byUsers[carol.ID].State != storage.AuthenticatorPending {
		t.Errorf("AuthenticatorsByUsers = %+v", byUsers)
	}
	empty, err := st.AuthenticatorsByUsers(ctx, nil)
	wantErr(t, "AuthenticatorsByUsers of none", err, nil)
	if empty == nil || len(empty) != 0 {
		t.Errorf("AuthenticatorsByUsers(nil) = %#v, want an empty map", empty)
	}
}

func testAcceptStep(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	a := mustActiveAuthenticator(t, st, w.user, 100)
	for _, tc := range []struct {
		name     string
		step     int64
		wantErr  error
		wantLast int64
	}{
		{"same step", 100, storage.ErrConflict, 100},
		{"older step", 99, storage.ErrConflict, 100},
		{"next step", 101, nil, 101},
		{"next step again", 101, storage.ErrConflict, 101},
		{"skips ahead", 105, nil, 105},
		{"back inside the window", 104, storage.ErrConflict, 105},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at := now()
			wantErr(t, "AcceptStep", st.AcceptStep(ctx, a.ID, tc.step, at), tc.wantErr)
			got, err := st.AuthenticatorByUser(ctx, w.user.ID)
			wantErr(t, "AuthenticatorByUser", err, nil)
			if got.LastStep != tc.wantLast {
				t.Errorf("LastStep = %d, want %d", got.LastStep, tc.wantLast)
			}
			if tc.wantErr == nil && (got.LastUsedAt == nil || !got.LastUsedAt.Equal(at)) {
				t.Errorf("LastUsedAt = %v, want %v", got.LastUsedAt, at)
			}
		})
	}
	t.Run("pending enrolment", func(t *testing.T) {
		bob := mustUser(t, st, w.tenant.ID, "bob@example.com")
		p := mustPendingEnrolment(t, st, bob, "s")
		wantErr(t, "AcceptStep", st.AcceptStep(ctx, p.ID, 1000, now()), storage.ErrConflict)
	})
	wantErr(t, "AcceptStep unknown", st.AcceptStep(ctx, "nope", 1000, now()), storage.ErrConflict)
}

func testResetMFA(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	bob := mustUser(t, st, w.tenant.ID, "bob@example.com")
	mustActiveAuthenticator(t, st, w.user, 10, storage.RecoveryCode{Hash: "a1"}, storage.RecoveryCode{Hash: "a2"})
	bobAuth := mustActiveAuthenticator(t, st, bob, 10, storage.RecoveryCode{Hash: "b1"})
	s := mustSession(t, st, w.user, now().Add(time.Hour))
	bobSession := mustSession(t, st, bob, now().Add(time.Hour))

	dan := mustUser(t, st, w.tenant.ID, "dan@example.com")
	pendingOfOther := mustPendingEnrolment(t, st, dan, "left over") // a sign-in showing a secret
	wantErr(t, "ResetMFA of a user enrolling", st.ResetMFA(ctx, dan.ID, nil, storage.AuditEvent{TenantID: w.tenant.ID, ActorID: "admin",
		Action: "mfa.reset", TargetID: dan.ID, CreatedAt: now()}), nil)
	at := now()
	code := storage.EnrolmentCode{UserID: w.user.ID, TenantID: w.tenant.ID, CodeHash: "code-hash", CreatedBy: "admin",
		CreatedAt: at, ExpiresAt: at.Add(72 * time.Hour)}
	wantErr(t, "ResetMFA", st.ResetMFA(ctx, w.user.ID, &code, storage.AuditEvent{TenantID: w.tenant.ID, ActorID: "admin",
		Action: "mfa.reset", TargetID: w.user.ID, CreatedAt: at}), nil)
	_, err := st.PendingEnrolment(ctx, pendingOfOther.AuthRequestID)
	wantErr(t, "PendingEnrolment after reset", err, storage.ErrNotFound)
	gotCode, err := st.EnrolmentCodeByUser(ctx, w.user.ID)
	wantErr(t, "EnrolmentCodeByUser", err, nil)
	wantEqual(t, "enrolment code", gotCode, code)
	// A second reset replaces the code.
	code2 := code
	code2.CodeHash = "code-hash-2"
	wantErr(t, "ResetMFA again", st.ResetMFA(ctx, w.user.ID, &code2, storage.AuditEvent{TenantID: w.tenant.ID, ActorID: "admin",
		Action: "mfa.reset", TargetID: w.user.ID, CreatedAt: at}), nil)
	if gotCode, _ := st.EnrolmentCodeByUser(ctx, w.user.ID); gotCode.CodeHash != "code-hash-2" {
		t.Errorf("enrolment code after a second reset = %+v", gotCode)
	}

	_, err = st.AuthenticatorByUser(ctx, w.user.ID)
	wantErr(t, "AuthenticatorByUser after reset", err, storage.ErrNotFound)
	codes, err := st.UnusedRecoveryCodes(ctx, w.user.ID)
	wantErr(t, "UnusedRecoveryCodes after reset", err, nil)
	if len(codes) != 0 {
		t.Errorf("UnusedRecoveryCodes after reset = %d codes, want none", len(codes))
	}
	_, err = st.SessionByID(ctx, s.ID)
	wantErr(t, "SessionByID after reset", err, storage.ErrNotFound)

	evs, err := st.ListAudit(ctx, w.tenant.ID, 0, 10)
	wantErr(t, "ListAudit", err, nil)
	if len(evs) != 3 || evs[0].Action != "mfa.reset" || evs[0].TargetID != w.user.ID || evs[0].ActorID != "admin" {
		t.Errorf("ListAudit after reset = %+v, want three mfa.reset events, the newest of %s", evs, w.user.ID)
	}

	got, err := st.AuthenticatorByUser(ctx, bob.ID)
	wantErr(t, "AuthenticatorByUser of another user", err, nil)
	wantEqual(t, "other user's authenticator", got, bobAuth)
	codes, err = st.UnusedRecoveryCodes(ctx, bob.ID)
	wantErr(t, "UnusedRecoveryCodes of another user", err, nil)
	if len(codes) != 1 {
		t.Errorf("other user's recovery codes = %d, want 1", len(codes))
	}
	_, err = st.SessionByID(ctx, bobSession.ID)
	wantErr(t, "SessionByID of another user", err, nil)

	// Enrolling again spends the enrolment code.
	p := mustPendingEnrolment(t, st, w.user, "new")
	_, err = st.ActivateAuthenticator(ctx, storage.Activation{PendingID: p.ID, Step: 20, Now: now()})
	wantErr(t, "ActivateAuthenticator after reset", err, nil)
	_, err = st.EnrolmentCodeByUser(ctx, w.user.ID)
	wantErr(t, "EnrolmentCodeByUser after enrolment", err, storage.ErrNotFound)
}

func testRecoveryCodes(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	created := now()
	wantErr(t, "ReplaceRecoveryCodes", st.ReplaceRecoveryCodes(ctx, w.user.ID,
		[]storage.RecoveryCode{{ID: "c1", Hash: "h1"}, {ID: "c2", Hash: "h2"}, {ID: "c3", Hash: "h3"}}, created, storage.Record{}), nil)
	codes, err := st.UnusedRecoveryCodes(ctx, w.user.ID)
	wantErr(t, "UnusedRecoveryCodes", err, nil)
	wantEqual(t, "UnusedRecoveryCodes", codes, []storage.RecoveryCode{
		{ID: "c1", UserID: w.user.ID, Hash: "h1", CreatedAt: created},
		{ID: "c2", UserID: w.user.ID, Hash: "h2", CreatedAt: created},
		{ID: "c3", UserID: w.user.ID, Hash: "h3", CreatedAt: created},
	})

	for _, tc := range []struct {
		name, id string
		wantErr  error
	}{
		{"first use", "c2", nil},
		{"second use", "c2", storage.ErrConflict},
		{"unknown code", "nope", storage.ErrConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, "UseRecoveryCode", st.UseRecoveryCode(ctx, tc.id, now(), storage.Record{}), tc.wantErr)
		})
	}
	codes, err = st.UnusedRecoveryCodes(ctx, w.user.ID)
	wantErr(t, "UnusedRecoveryCodes", err, nil)
	wantEqual(t, "unused after one use", ids(codes, func(c storage.RecoveryCode) string { return c.ID }), []string{"c1", "c3"})

	wantErr(t, "ReplaceRecoveryCodes again", st.ReplaceRecoveryCodes(ctx, w.user.ID, []storage.RecoveryCode{{Hash: "n1"}}, now(), storage.Record{}), nil)
	codes, err = st.UnusedRecoveryCodes(ctx, w.user.ID)
	wantErr(t, "UnusedRecoveryCodes", err, nil)
	if len(codes) != 1 || codes[0].Hash != "n1" || codes[0].ID == "" {
		t.Errorf("codes after replacement = %+v, want only the new one", codes)
	}
	wantErr(t, "UseRecoveryCode of a replaced code", st.UseRecoveryCode(ctx, "c1", now(), storage.Record{}), storage.ErrConflict)
}

// testThrottleAttempts covers the attempts reserved before a secret is compared: room for as many in
// flight as could fail without reaching the first lock, none while locked, one at a time once a lock has
// run out, abandoned ones forgotten, a failure counted with its lock in one statement, a success that
// clears the failures counted before it began and keeps those counted since, and a release that counts
// neither way.
func testThrottleAttempts(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	const key = "otp:user:alice"
	t0 := now()
	steps := []storage.ThrottleStep{{Failures: 3, Lock: time.Minute}, {Failures: 5, Lock: time.Hour}}
	const limit = 3 // the first count that locks
	stale := func(at time.Time) time.Time { return at.Add(-time.Minute) }
	attempt := func(what string, at time.Time, wantOK bool, wantFailures, wantPending int) storage.Throttle {
		t.Helper()
		got, ok, err := st.ThrottleAttempt(ctx, key, at, limit, stale(at))
		wantErr(t, what, err, nil)
		if ok != wantOK || got.Failures != wantFailures || got.Pending != wantPending {
			t.Fatalf("%s = %+v, allowed %v; want %d failures, %d in flight, allowed %v", what, got, ok, wantFailures, wantPending, wantOK)
		}
		stored, err := st.Throttle(ctx, key)
		wantErr(t, "Throttle", err, nil)
		if stored.Failures != wantFailures || stored.Pending != wantPending {
			t.Fatalf("%s: stored %+v, want %d failures, %d in flight", what, stored, wantFailures, wantPending)
		}
		return got
	}
	// fail decides an attempt as failed at at; a zero wantLock means "not locked at at".
	fail := func(what string, at time.Time, wantFailures int, wantLock time.Time) {
		t.Helper()
		got, err := st.ThrottleAttemptFailed(ctx, key, at, steps)
		wantErr(t, what, err, nil)
		if got.Failures != wantFailures {
			t.Fatalf("%s: %d failures, want %d", what, got.Failures, wantFailures)
		}
		stored, err := st.Throttle(ctx, key)
		wantErr(t, "Throttle", err, nil)
		if wantLock.IsZero() {
			if got.LockedUntil.After(at) || stored.LockedUntil.After(at) {
				t.Fatalf("%s: locked until %v (stored %v), want no lock", what, got.LockedUntil, stored.LockedUntil)
			}
			return
		}
		wantTime(t, what+" LockedUntil", got.LockedUntil, wantLock)
		wantTime(t, what+" stored LockedUntil", stored.LockedUntil, wantLock)
	}

	// Three may be in flight at once: if all failed, the third would lock.
	attempt("first", t0, true, 0, 1)
	attempt("second", t0, true, 0, 2)
	attempt("third", t0, true, 0, 3)
	if got := attempt("a fourth while three are in flight", t0, false, 0, 3); got.LockedUntil.After(t0) {
		t.Errorf("refused for the attempts in flight, but locked until %v", got.LockedUntil)
	}
	wantErr(t, "ThrottleAttemptReleased", st.ThrottleAttemptReleased(ctx, key), nil)
	attempt("a fourth after one was released", t0, true, 0, 3)

	fail("first failure", t0, 1, time.Time{})
	fail("second failure", t0, 2, time.Time{})
	attempt("while two failed and one is in flight", t0, false, 2, 1)
	fail("third failure locks", t0, 3, t0.Add(time.Minute))
	if got := attempt("while locked", t0.Add(time.Minute-time.Second), false, 3, 0); !got.LockedUntil.Equal(t0.Add(time.Minute)) {
		t.Errorf("refused while locked, counter %+v; want the lock until %v", got, t0.Add(time.Minute))
	}

	// Once the lock has run out, one attempt at a time.
	t1 := t0.Add(time.Minute)
	attempt("at the end of the lock", t1, true, 3, 1)
	attempt("another while it is in flight", t1, false, 3, 1)
	// An attempt left in flight for longer than the stale time (its process ended) holds no room.
	t2 := t1.Add(time.Minute + time.Second)
	attempt("after the one in flight was abandoned", t2, true, 3, 1)

	// A success clears the failures counted before it began; with nothing since, the counter goes.
	wantErr(t, "ThrottleAttemptSucceeded", st.ThrottleAttemptSucceeded(ctx, key, 3), nil)
	if got, err := st.Throttle(ctx, key); err != nil || got.Failures != 0 || got.Pending != 0 || !got.LockedUntil.IsZero() {
		t.Fatalf("after the success = %+v, %v; want no counter", got, err)
	}

	// A failure counted while a successful attempt was in flight stays.
	attempt("a right secret", t2, true, 0, 1)
	attempt("someone else's, at once", t2, true, 0, 2)
	fail("someone else's failure", t2, 1, time.Time{})
	wantErr(t, "ThrottleAttemptSucceeded", st.ThrottleAttemptSucceeded(ctx, key, 0), nil)
	if got, err := st.Throttle(ctx, key); err != nil || got.Failures != 1 || got.Pending != 0 || got.LockedUntil.After(t2) {
		t.Fatalf("after a success with a failure since = %+v, %v; want that failure, nothing in flight, no lock", got, err)
	}
	attempt("the next", t2, true, 1, 1)
	wantErr(t, "ThrottleAttemptSucceeded", st.ThrottleAttemptSucceeded(ctx, key, 1), nil)
	if got, err := st.Throttle(ctx, key); err != nil || got.Failures != 0 || got.Pending != 0 {
		t.Fatalf("after the next success = %+v, %v; want no counter", got, err)
	}

	// A success while a longer lock stands (counted by others since): the lock stays with their failures.
	for i := range 5 {
		if _, err := st.ThrottleAttemptFailed(ctx, key, t2, steps); err != nil {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	wantErr(t, "ThrottleAttemptSucceeded", st.ThrottleAttemptSucceeded(ctx, key, 2), nil)
	if got, err := st.Throttle(ctx, key); err != nil || got.Failures != 3 || !got.LockedUntil.Equal(t2.Add(time.Hour)) {
		t.Fatalf("after a success of an attempt that began at 2 failures = %+v, %v; want 3 failures and the lock of the 5th", got, err)
	}

	// A failure never shortens a lock, and a key without a counter (reset meanwhile) gets one.
	wantErr(t, "ThrottleReset", st.ThrottleReset(ctx, key), nil)
	long := []storage.ThrottleStep{{Failures: 1, Lock: time.Hour}}
	short := []storage.ThrottleStep{{Failures: 1, Lock: time.Minute}}
	fail2 := func(what string, s []storage.ThrottleStep, wantFailures int, wantLock time.Time) {
		t.Helper()
		got, err := st.ThrottleAttemptFailed(ctx, key, t2, s)
		wantErr(t, what, err, nil)
		if got.Failures != wantFailures || got.Pending != 0 {
			t.Fatalf("%s = %+v, want %d failures", what, got, wantFailures)
		}
		wantTime(t, what+" LockedUntil", got.LockedUntil, wantLock)
	}
	fail2("a failure of a key without a counter", long, 1, t2.Add(time.Hour))
	fail2("a shorter lock keeps the longer", short, 2, t2.Add(time.Hour))
	fail2("without a schedule", nil, 3, t2.Add(time.Hour))

	wantErr(t, "ThrottleAttemptSucceeded of an unknown key", st.ThrottleAttemptSucceeded(ctx, "nope", 0), nil)
	wantErr(t, "ThrottleAttemptReleased of an unknown key", st.ThrottleAttemptReleased(ctx, "nope"), nil)
	if got, err := st.Throttle(ctx, "nope"); err != nil || got.Failures != 0 || got.Pending != 0 {
		t.Errorf("unknown key after a success and a release = %+v, %v; want none", got, err)
	}
}

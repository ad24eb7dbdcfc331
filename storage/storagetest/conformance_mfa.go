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
	created := now()
	pending := func(secret string) storage.Authenticator {
		return storage.Authenticator{ID: storage.NewID(), UserID: w.user.ID, TenantID: w.tenant.ID, SecretSealed: []byte(secret),
			State: storage.AuthenticatorActive /* ignored */, LastStep: 99 /* ignored */, CreatedAt: created}
	}

	first := pending("secret-1")
	wantErr(t, "PutPendingAuthenticator", st.PutPendingAuthenticator(ctx, first), nil)
	got, err := st.AuthenticatorByUser(ctx, w.user.ID)
	wantErr(t, "AuthenticatorByUser", err, nil)
	wantEqual(t, "pending authenticator", got, storage.Authenticator{ID: first.ID, UserID: w.user.ID, TenantID: w.tenant.ID,
		SecretSealed: []byte("secret-1"), State: storage.AuthenticatorPending, CreatedAt: created})

	second := pending("secret-2")
	wantErr(t, "PutPendingAuthenticator replaces a pending one", st.PutPendingAuthenticator(ctx, second), nil)
	got, err = st.AuthenticatorByUser(ctx, w.user.ID)
	wantErr(t, "AuthenticatorByUser", err, nil)
	if got.ID != second.ID || string(got.SecretSealed) != "secret-2" {
		t.Fatalf("AuthenticatorByUser = %+v, want the second enrolment", got)
	}
	wantErr(t, "ActivateAuthenticator of the replaced one", st.ActivateAuthenticator(ctx, first.ID, 100, now(), nil), storage.ErrNotFound)

	activated := now()
	codes := []storage.RecoveryCode{{Hash: "h1"}, {Hash: "h2"}}
	wantErr(t, "ActivateAuthenticator", st.ActivateAuthenticator(ctx, second.ID, 100, activated, codes), nil)
	got, err = st.AuthenticatorByUser(ctx, w.user.ID)
	wantErr(t, "AuthenticatorByUser", err, nil)
	if got.State != storage.AuthenticatorActive || got.LastStep != 100 {
		t.Errorf("activated authenticator = %+v, want active at step 100", got)
	}
	if got.ConfirmedAt == nil || !got.ConfirmedAt.Equal(activated) {
		t.Errorf("ConfirmedAt = %v, want %v", got.ConfirmedAt, activated)
	}
	rc, err := st.UnusedRecoveryCodes(ctx, w.user.ID)
	wantErr(t, "UnusedRecoveryCodes", err, nil)
	if len(rc) != 2 {
		t.Errorf("UnusedRecoveryCodes = %d codes, want 2", len(rc))
	}

	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"ActivateAuthenticator twice", func() error { return st.ActivateAuthenticator(ctx, second.ID, 200, now(), nil) }},
		{"PutPendingAuthenticator over an active one", func() error { return st.PutPendingAuthenticator(ctx, pending("thief")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, tc.name, tc.call(), storage.ErrConflict)
			got, err := st.AuthenticatorByUser(ctx, w.user.ID)
			wantErr(t, "AuthenticatorByUser", err, nil)
			if got.ID != second.ID || got.State != storage.AuthenticatorActive || got.LastStep != 100 || string(got.SecretSealed) != "secret-2" {
				t.Errorf("authenticator changed: %+v", got)
			}
		})
	}
	rc, err = st.UnusedRecoveryCodes(ctx, w.user.ID)
	wantErr(t, "UnusedRecoveryCodes", err, nil)
	if len(rc) != 2 {
		t.Errorf("a refused activation replaced the recovery codes: %d codes", len(rc))
	}

	t.Run("activation needs a step", func(t *testing.T) {
		a := storage.Authenticator{ID: storage.NewID(), UserID: bob.ID, TenantID: w.tenant.ID, SecretSealed: []byte("s")}
		wantErr(t, "PutPendingAuthenticator", st.PutPendingAuthenticator(ctx, a), nil)
		wantErr(t, "ActivateAuthenticator at step 0", st.ActivateAuthenticator(ctx, a.ID, 0, now(), nil), storage.ErrConflict)
	})

	byUsers, err := st.AuthenticatorsByUsers(ctx, []string{w.user.ID, bob.ID, "nobody"})
	wantErr(t, "AuthenticatorsByUsers", err, nil)
	if len(byUsers) != 2 || byUsers[w.user.ID].ID != second.ID || byUsers[bob.ID].State != storage.AuthenticatorPending {
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
	t.Run("pending authenticator", func(t *testing.T) {
		bob := mustUser(t, st, w.tenant.ID, "bob@example.com")
		p := storage.Authenticator{ID: storage.NewID(), UserID: bob.ID, TenantID: w.tenant.ID, SecretSealed: []byte("s")}
		wantErr(t, "PutPendingAuthenticator", st.PutPendingAuthenticator(ctx, p), nil)
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

	at := now()
	wantErr(t, "ResetMFA", st.ResetMFA(ctx, w.user.ID, storage.AuditEvent{TenantID: w.tenant.ID, ActorID: "admin",
		Action: "mfa.reset", TargetID: w.user.ID, CreatedAt: at}), nil)

	_, err := st.AuthenticatorByUser(ctx, w.user.ID)
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
	if len(evs) != 1 || evs[0].Action != "mfa.reset" || evs[0].TargetID != w.user.ID || evs[0].ActorID != "admin" {
		t.Errorf("ListAudit after reset = %+v, want one mfa.reset event", evs)
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

	again := storage.Authenticator{ID: storage.NewID(), UserID: w.user.ID, TenantID: w.tenant.ID, SecretSealed: []byte("new")}
	wantErr(t, "PutPendingAuthenticator after reset", st.PutPendingAuthenticator(ctx, again), nil)
}

func testRecoveryCodes(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	created := now()
	wantErr(t, "ReplaceRecoveryCodes", st.ReplaceRecoveryCodes(ctx, w.user.ID,
		[]storage.RecoveryCode{{ID: "c1", Hash: "h1"}, {ID: "c2", Hash: "h2"}, {ID: "c3", Hash: "h3"}}, created), nil)
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
			wantErr(t, "UseRecoveryCode", st.UseRecoveryCode(ctx, tc.id, now()), tc.wantErr)
		})
	}
	codes, err = st.UnusedRecoveryCodes(ctx, w.user.ID)
	wantErr(t, "UnusedRecoveryCodes", err, nil)
	wantEqual(t, "unused after one use", ids(codes, func(c storage.RecoveryCode) string { return c.ID }), []string{"c1", "c3"})

	wantErr(t, "ReplaceRecoveryCodes again", st.ReplaceRecoveryCodes(ctx, w.user.ID, []storage.RecoveryCode{{Hash: "n1"}}, now()), nil)
	codes, err = st.UnusedRecoveryCodes(ctx, w.user.ID)
	wantErr(t, "UnusedRecoveryCodes", err, nil)
	if len(codes) != 1 || codes[0].Hash != "n1" || codes[0].ID == "" {
		t.Errorf("codes after replacement = %+v, want only the new one", codes)
	}
	wantErr(t, "UseRecoveryCode of a replaced code", st.UseRecoveryCode(ctx, "c1", now()), storage.ErrConflict)
}

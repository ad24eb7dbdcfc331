package storagetest

import (
	"testing"
	"time"

	"github.com/portcullis/portcullis/storage"
)

func testSigningKeys(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	t0 := now()
	key := func(id string, created time.Time) storage.SigningKey {
		return storage.SigningKey{ID: id, Algorithm: "RS256", PrivateSealed: []byte("sealed-" + id),
			PublicPEM: []byte("-----BEGIN PUBLIC KEY-----\n" + id), CreatedAt: created}
	}
	k1, k2, k3 := key("k1", t0), key("k2", t0.Add(time.Hour)), key("k3", t0.Add(2*time.Hour))

	keys, err := st.SigningKeys(ctx, t0)
	wantErr(t, "SigningKeys of none", err, nil)
	if len(keys) != 0 {
		t.Errorf("SigningKeys of an empty store = %+v", keys)
	}

	wantErr(t, "AddSigningKey k1", st.AddSigningKey(ctx, k1, t0.Add(time.Hour)), nil)
	keys, err = st.SigningKeys(ctx, t0)
	wantErr(t, "SigningKeys", err, nil)
	wantEqual(t, "SigningKeys after k1", keys, []storage.SigningKey{k1})

	// k2 takes over: k1 is retired at k2's creation and published until the overlap ends.
	wantErr(t, "AddSigningKey k2", st.AddSigningKey(ctx, k2, k2.CreatedAt.Add(30*time.Minute)), nil)
	wantErr(t, "AddSigningKey k3", st.AddSigningKey(ctx, k3, k3.CreatedAt.Add(30*time.Minute)), nil)
	wantErr(t, "AddSigningKey duplicate", st.AddSigningKey(ctx, k3, k3.CreatedAt), storage.ErrAlreadyExists)

	retired := func(k storage.SigningKey, at, until time.Time) storage.SigningKey {
		k.RetiredAt, k.ExpiresAt = &at, &until
		return k
	}
	r1 := retired(k1, k2.CreatedAt, k2.CreatedAt.Add(30*time.Minute))
	r2 := retired(k2, k3.CreatedAt, k3.CreatedAt.Add(30*time.Minute))
	for _, tc := range []struct {
		name string
		at   time.Time
		want []storage.SigningKey
	}{
		{"all published", t0, []storage.SigningKey{k3, r2, r1}},
		{"k1 at its expiry", *r1.ExpiresAt, []storage.SigningKey{k3, r2}},
		{"k1 gone", k3.CreatedAt, []storage.SigningKey{k3, r2}},
		{"only the signing key", k3.CreatedAt.Add(time.Hour), []storage.SigningKey{k3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := st.SigningKeys(ctx, tc.at)
			wantErr(t, "SigningKeys", err, nil)
			wantEqual(t, "SigningKeys", keys, tc.want)
		})
	}
}

// testTimezones stores times given in zones other than UTC and reads back the same instants, in UTC;
// comparisons in the database (expiry) must be by instant too (dexidp/dex conformance testTimezones).
func testTimezones(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	east := time.FixedZone("east", 5*3600)
	west := time.FixedZone("west", -7*3600)
	w := newWorld(t, st)
	base := now().Add(time.Hour)
	inEast := base.In(east)

	a := w.authRequest()
	a.CreatedAt, a.ExpiresAt, a.AuthTime = base.Add(-time.Hour).In(west), inEast, inEast
	wantErr(t, "CreateAuthRequest", st.CreateAuthRequest(ctx, a), nil)
	gotA, err := st.AuthRequestByID(ctx, a.ID)
	wantErr(t, "AuthRequestByID", err, nil)
	wantTime(t, "auth request ExpiresAt", gotA.ExpiresAt, base)
	wantTime(t, "auth request AuthTime", gotA.AuthTime, base)
	wantTime(t, "auth request CreatedAt", gotA.CreatedAt, base.Add(-time.Hour))

	s := storage.Session{ID: storage.NewID(), TenantID: w.tenant.ID, UserID: w.user.ID, AuthTime: inEast, CreatedAt: inEast,
		ExpiresAt: base.Add(time.Hour).In(west)}
	wantErr(t, "CreateSession", st.CreateSession(ctx, s), nil)
	gotS, err := st.SessionByID(ctx, s.ID)
	wantErr(t, "SessionByID", err, nil)
	wantTime(t, "session ExpiresAt", gotS.ExpiresAt, base.Add(time.Hour))
	wantTime(t, "session AuthTime", gotS.AuthTime, base)

	at, rt := tokenPair("grant", w.user, w.client.ID, inEast)
	at.ExpiresAt, at.AuthTime, rt.AuthTime = base.In(west), inEast, inEast
	wantErr(t, "CreateTokens", st.CreateTokens(ctx, at, &rt), nil)
	gotAT, err := st.AccessTokenByID(ctx, at.ID)
	wantErr(t, "AccessTokenByID", err, nil)
	wantTime(t, "access token ExpiresAt", gotAT.ExpiresAt, base)
	wantTime(t, "access token AuthTime", gotAT.AuthTime, base)
	gotRT, err := st.RefreshTokenByHash(ctx, rt.TokenHash)
	wantErr(t, "RefreshTokenByHash", err, nil)
	wantTime(t, "refresh token ExpiresAt", gotRT.ExpiresAt, base)

	k := storage.SigningKey{ID: "k", Algorithm: "ES256", PrivateSealed: []byte("x"), PublicPEM: []byte("y"), CreatedAt: inEast}
	wantErr(t, "AddSigningKey", st.AddSigningKey(ctx, k, inEast), nil)
	keys, err := st.SigningKeys(ctx, base.In(west))
	wantErr(t, "SigningKeys", err, nil)
	if len(keys) != 1 {
		t.Fatalf("SigningKeys = %+v", keys)
	}
	wantTime(t, "signing key CreatedAt", keys[0].CreatedAt, base)

	wantErr(t, "ReplaceRecoveryCodes", st.ReplaceRecoveryCodes(ctx, w.user.ID, []storage.RecoveryCode{{Hash: "h"}}, inEast, storage.Record{}), nil)
	codes, err := st.UnusedRecoveryCodes(ctx, w.user.ID)
	wantErr(t, "UnusedRecoveryCodes", err, nil)
	wantTime(t, "recovery code CreatedAt", codes[0].CreatedAt, base)

	thr, err := st.ThrottleFail(ctx, "k", inEast, func(int) time.Duration { return time.Minute })
	wantErr(t, "ThrottleFail", err, nil)
	wantTime(t, "ThrottleFail LockedUntil", thr.LockedUntil, base.Add(time.Minute))
	gotThr, err := st.Throttle(ctx, "k")
	wantErr(t, "Throttle", err, nil)
	wantTime(t, "throttle LockedUntil", gotThr.LockedUntil, base.Add(time.Minute))
	wantTime(t, "throttle UpdatedAt", gotThr.UpdatedAt, base)

	// Expiry compares instants: a code that expires at base (written in +05:00) is valid a minute
	// earlier in -07:00 and gone a minute later in +05:00, although the wall clocks say otherwise.
	w.mustCodeRequest(t, st, "early", inEast)
	w.mustCodeRequest(t, st, "late", inEast)
	_, err = st.ConsumeCode(ctx, "early", base.Add(-time.Minute).In(west))
	wantErr(t, "ConsumeCode before expiry in another zone", err, nil)
	_, err = st.ConsumeCode(ctx, "late", base.Add(time.Minute).In(east))
	wantErr(t, "ConsumeCode after expiry in the same zone", err, storage.ErrNotFound)
	_, err = st.ConsumeCode(ctx, "late", base.Add(time.Hour).In(west))
	wantErr(t, "ConsumeCode after expiry in another zone", err, storage.ErrNotFound)

	// Sub-second differences across zones must order correctly too.
	fine := base.Add(500 * time.Millisecond)
	at2, rt2 := tokenPair("grant-2", w.user, w.client.ID, fine.In(east))
	wantErr(t, "CreateTokens", st.CreateTokens(ctx, at2, &rt2), nil)
	nat, nrt := tokenPair("grant-2", w.user, w.client.ID, base.Add(time.Hour))
	wantErr(t, "RotateRefreshToken just after expiry", st.RotateRefreshToken(ctx, rt2.TokenHash, fine.Add(time.Microsecond).In(west), nat, nrt), storage.ErrConflict)
	wantErr(t, "RotateRefreshToken just before expiry", st.RotateRefreshToken(ctx, rt2.TokenHash, base.In(west), nat, nrt), nil)
}

func testSweep(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	t0 := now()
	past, future := t0.Add(-time.Minute), t0.Add(time.Hour)

	liveReq := w.authRequest()
	deadReq := w.authRequest()
	deadReq.CreatedAt, deadReq.ExpiresAt = past.Add(-time.Hour), past
	for _, a := range []storage.AuthRequest{liveReq, deadReq} {
		wantErr(t, "CreateAuthRequest", st.CreateAuthRequest(ctx, a), nil)
	}
	liveSession, deadSession := mustSession(t, st, w.user, future), mustSession(t, st, w.user, past)

	liveAT, liveRT := tokenPair("live", w.user, w.client.ID, future)
	deadAT, deadRT := tokenPair("dead", w.user, w.client.ID, past)
	deadAT.ExpiresAt = past
	wantErr(t, "CreateTokens live", st.CreateTokens(ctx, liveAT, &liveRT), nil)
	wantErr(t, "CreateTokens dead", st.CreateTokens(ctx, deadAT, &deadRT), nil)

	// k1 was retired and stopped being published a minute ago; k2 is retired and still published.
	keyAt := func(id string, at time.Time) storage.SigningKey {
		return storage.SigningKey{ID: id, Algorithm: "RS256", PrivateSealed: []byte("x"), PublicPEM: []byte("y"), CreatedAt: at}
	}
	// (AddSigningKey's second argument is how long the keys it retires stay published.)
	wantErr(t, "AddSigningKey k1", st.AddSigningKey(ctx, keyAt("k1", t0.Add(-3*time.Hour)), t0), nil)
	wantErr(t, "AddSigningKey k2", st.AddSigningKey(ctx, keyAt("k2", t0.Add(-2*time.Hour)), past), nil)
	wantErr(t, "AddSigningKey k3", st.AddSigningKey(ctx, keyAt("k3", t0.Add(-time.Hour)), future), nil)

	// A throttle untouched for two days goes; a fresh one and a locked one stay.
	noLock := func(int) time.Duration { return 0 }
	for _, tc := range []struct {
		key  string
		at   time.Time
		lock func(int) time.Duration
	}{
		{"stale", t0.Add(-48 * time.Hour), noLock},
		{"fresh", t0.Add(-time.Hour), noLock},
		{"locked", t0.Add(-48 * time.Hour), func(int) time.Duration { return 72 * time.Hour }},
	} {
		_, err := st.ThrottleFail(ctx, tc.key, tc.at, tc.lock)
		wantErr(t, "ThrottleFail "+tc.key, err, nil)
	}

	n, err := st.Sweep(ctx, t0)
	wantErr(t, "Sweep", err, nil)
	const want = 1 + 1 + 1 + 1 + 1 + 1 // auth request, session, access token, refresh token, key, throttle
	if n != want {
		t.Errorf("Sweep removed %d rows, want %d", n, want)
	}

	for _, tc := range []struct {
		name    string
		lookup  func() error
		wantErr error
	}{
		{"live auth request", func() error { _, err := st.AuthRequestByID(ctx, liveReq.ID); return err }, nil},
		{"expired auth request", func() error { _, err := st.AuthRequestByID(ctx, deadReq.ID); return err }, storage.ErrNotFound},
		{"live session", func() error { _, err := st.SessionByID(ctx, liveSession.ID); return err }, nil},
		{"expired session", func() error { _, err := st.SessionByID(ctx, deadSession.ID); return err }, storage.ErrNotFound},
		{"live access token", func() error { _, err := st.AccessTokenByID(ctx, liveAT.ID); return err }, nil},
		{"expired access token", func() error { _, err := st.AccessTokenByID(ctx, deadAT.ID); return err }, storage.ErrNotFound},
		{"live refresh token", func() error { _, err := st.RefreshTokenByHash(ctx, liveRT.TokenHash); return err }, nil},
		{"expired refresh token", func() error { _, err := st.RefreshTokenByHash(ctx, deadRT.TokenHash); return err }, storage.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.name, tc.lookup(), tc.wantErr) })
	}

	keys, err := st.SigningKeys(ctx, t0.Add(-4*time.Hour)) // before any expiry: only deletion hides a key
	wantErr(t, "SigningKeys", err, nil)
	wantEqual(t, "signing keys after sweep", ids(keys, func(k storage.SigningKey) string { return k.ID }), []string{"k3", "k2"})

	for _, tc := range []struct {
		key  string
		want int
	}{{"stale", 0}, {"fresh", 1}, {"locked", 1}} {
		got, err := st.Throttle(ctx, tc.key)
		wantErr(t, "Throttle", err, nil)
		if got.Failures != tc.want {
			t.Errorf("throttle %q after sweep: %d failures, want %d", tc.key, got.Failures, tc.want)
		}
	}

	n, err = st.Sweep(ctx, t0)
	wantErr(t, "Sweep again", err, nil)
	if n != 0 {
		t.Errorf("second Sweep removed %d rows, want 0", n)
	}
}

package storagetest

import (
	"testing"
	"time"

	"github.com/portcullis/portcullis/storage"
)

func testAuthRequestRoundTrip(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	minimal := w.authRequest()
	full := w.authRequest()
	full.ResponseMode = "form_post"
	full.Prompt = []string{"login", "consent"}
	full.MaxAge = ptr(int64(0))
	full.LoginHint = "alice@example.com"
	full.ACRValues = []string{"urn:portcullis:mfa"}
	full.UILocales = []string{"de", "en"}
	full.RequireMFA = true
	full.BrowserHash = "browser"
	full.UserID = w.user.ID
	full.Factors = []string{factorPassword, factorOTP}
	full.AuthTime = now()
	full.CodeHash = "code-hash"
	full.CodeExpiresAt = now().Add(time.Minute)
	full.CodeUsedAt = ptr(now())
	full.ConsumedAt = ptr(now())

	for _, tc := range []struct {
		name string
		req  storage.AuthRequest
	}{
		{"minimal", minimal},
		{"every field", full},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, "CreateAuthRequest", st.CreateAuthRequest(ctx, tc.req), nil)
			got, err := st.AuthRequestByID(ctx, tc.req.ID)
			wantErr(t, "AuthRequestByID", err, nil)
			wantEqual(t, "AuthRequestByID", got, tc.req)
			wantErr(t, "CreateAuthRequest again", st.CreateAuthRequest(ctx, tc.req), storage.ErrAlreadyExists)
		})
	}

	wantErr(t, "DeleteAuthRequest", st.DeleteAuthRequest(ctx, minimal.ID), nil)
	_, err := st.AuthRequestByID(ctx, minimal.ID)
	wantErr(t, "AuthRequestByID after delete", err, storage.ErrNotFound)
}

func testBindAuthRequest(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	a := w.mustAuthRequest(t, st)
	for _, tc := range []struct {
		name, hash string
		wantErr    error
	}{
		{"first binding", "browser-1", nil},
		{"same browser again", "browser-1", nil},
		{"other browser", "browser-2", storage.ErrConflict},
		{"empty hash", "", storage.ErrConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, "BindAuthRequest", st.BindAuthRequest(ctx, a.ID, tc.hash), tc.wantErr)
		})
	}
	got, err := st.AuthRequestByID(ctx, a.ID)
	wantErr(t, "AuthRequestByID", err, nil)
	if got.BrowserHash != "browser-1" {
		t.Errorf("BrowserHash = %q, want the first binding", got.BrowserHash)
	}
}

func testRecordLogin(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	bob := mustUser(t, st, w.tenant.ID, "bob@example.com")
	pwd := []string{factorPassword}
	both := []string{factorPassword, factorOTP}

	unbound := w.mustAuthRequest(t, st)
	wantErr(t, "RecordLogin on an unbound request", st.RecordLogin(ctx, unbound, w.user.ID, pwd, now(), storage.Proof{}), storage.ErrConflict)

	a := w.mustAuthRequest(t, st)
	wantErr(t, "BindAuthRequest", st.BindAuthRequest(ctx, a.ID, "browser"), nil)
	fresh, err := st.AuthRequestByID(ctx, a.ID)
	wantErr(t, "AuthRequestByID", err, nil)

	wrongBrowser := fresh
	wrongBrowser.BrowserHash = "other"
	wantErr(t, "RecordLogin from another browser", st.RecordLogin(ctx, wrongBrowser, w.user.ID, pwd, now(), storage.Proof{}), storage.ErrConflict)

	authTime := now()
	wantErr(t, "RecordLogin password", st.RecordLogin(ctx, fresh, w.user.ID, pwd, authTime, storage.Proof{}), nil)
	got, err := st.AuthRequestByID(ctx, a.ID)
	wantErr(t, "AuthRequestByID", err, nil)
	if got.UserID != w.user.ID {
		t.Errorf("UserID = %q, want %q", got.UserID, w.user.ID)
	}
	wantEqual(t, "Factors", got.Factors, pwd)
	wantTime(t, "AuthTime", got.AuthTime, authTime)

	// The state the first step read is stale now: it can never add a factor.
	wantErr(t, "RecordLogin with stale prev", st.RecordLogin(ctx, fresh, w.user.ID, both, now(), storage.Proof{}), storage.ErrConflict)
	switched := got
	switched.UserID = bob.ID
	wantErr(t, "RecordLogin claiming another user was signing in", st.RecordLogin(ctx, switched, bob.ID, both, now(), storage.Proof{}), storage.ErrConflict)
	moreFactors := got
	moreFactors.Factors = both
	wantErr(t, "RecordLogin with factors it did not read", st.RecordLogin(ctx, moreFactors, w.user.ID, both, now(), storage.Proof{}), storage.ErrConflict)

	wantErr(t, "RecordLogin second factor", st.RecordLogin(ctx, got, w.user.ID, both, now(), storage.Proof{}), nil)
	got, err = st.AuthRequestByID(ctx, a.ID)
	wantErr(t, "AuthRequestByID", err, nil)
	wantEqual(t, "Factors", got.Factors, both)

	wantErr(t, "SaveAuthCode", st.SaveAuthCode(ctx, a.ID, "code", now().Add(time.Minute)), nil)
	got, err = st.AuthRequestByID(ctx, a.ID)
	wantErr(t, "AuthRequestByID", err, nil)
	wantErr(t, "RecordLogin after the code was issued", st.RecordLogin(ctx, got, w.user.ID, pwd, now(), storage.Proof{}), storage.ErrConflict)
}

// testRebindAndRecordLogin checks the sign-in step's write: the browser's sign-ins move to the new
// binding, and this one records the login under it, with RecordLogin's compare-and-set.
func testRebindAndRecordLogin(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	pwd := []string{factorPassword}
	both := []string{factorPassword, factorOTP}
	bound := func(hash string) storage.AuthRequest {
		a := w.mustAuthRequest(t, st)
		wantErr(t, "BindAuthRequest", st.BindAuthRequest(ctx, a.ID, hash), nil)
		got, err := st.AuthRequestByID(ctx, a.ID)
		wantErr(t, "AuthRequestByID", err, nil)
		return got
	}
	hashOf := func(id string) storage.AuthRequest {
		got, err := st.AuthRequestByID(ctx, id)
		wantErr(t, "AuthRequestByID", err, nil)
		return got
	}
	a, tab, issued, stranger := bound("h1"), bound("h1"), bound("h1"), bound("other")
	wantErr(t, "SaveAuthCode", st.SaveAuthCode(ctx, issued.ID, "code-rr", now().Add(time.Minute)), nil)

	authTime := now()
	wantErr(t, "RebindAndRecordLogin", st.RebindAndRecordLogin(ctx, a, "h2", w.user.ID, pwd, authTime, storage.Proof{}), nil)
	got := hashOf(a.ID)
	if got.BrowserHash != "h2" || got.UserID != w.user.ID {
		t.Errorf("after the step: binding %q, user %q; want h2, %q", got.BrowserHash, got.UserID, w.user.ID)
	}
	wantEqual(t, "Factors", got.Factors, pwd)
	wantTime(t, "AuthTime", got.AuthTime, authTime)
	if h := hashOf(tab.ID).BrowserHash; h != "h2" {
		t.Errorf("the browser's other sign-in: binding %q, want h2", h)
	}
	if h := hashOf(issued.ID).BrowserHash; h != "h1" {
		t.Errorf("a sign-in whose code was issued moved to %q, want it left at h1", h)
	}
	if h := hashOf(stranger.ID).BrowserHash; h != "other" {
		t.Errorf("another browser's sign-in moved to %q", h)
	}

	// Stale state (the factors it read changed): nothing recorded, but the browser's sign-ins still move.
	stale := a
	stale.BrowserHash = "h2"
	wantErr(t, "RebindAndRecordLogin with stale prev", st.RebindAndRecordLogin(ctx, stale, "h3", w.user.ID, both, now(), storage.Proof{}), storage.ErrConflict)
	if got := hashOf(a.ID); got.BrowserHash != "h2" || len(got.Factors) != 1 {
		t.Errorf("a refused step wrote: binding %q, factors %v", got.BrowserHash, got.Factors)
	}
	if h := hashOf(tab.ID).BrowserHash; h != "h3" {
		t.Errorf("the browser's other sign-in after a refused step: binding %q, want h3", h)
	}
	// Another browser's binding records nothing; an empty one neither.
	wrong := hashOf(a.ID)
	wrong.BrowserHash = "other"
	wantErr(t, "RebindAndRecordLogin from another browser", st.RebindAndRecordLogin(ctx, wrong, "h4", w.user.ID, both, now(), storage.Proof{}), storage.ErrConflict)
	wrong.BrowserHash = ""
	wantErr(t, "RebindAndRecordLogin without a binding", st.RebindAndRecordLogin(ctx, wrong, "h4", w.user.ID, both, now(), storage.Proof{}), storage.ErrConflict)
	if got := hashOf(a.ID); len(got.Factors) != 1 {
		t.Errorf("factors %v after refused steps, want the password only", got.Factors)
	}
	if h := hashOf(stranger.ID).BrowserHash; h != "h4" {
		t.Errorf("the other browser's sign-in: binding %q, want h4 (its browser's step moved it)", h)
	}
}

func testSaveAuthCode(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	a := w.mustAuthRequest(t, st)
	exp := now().Add(time.Minute)
	wantErr(t, "SaveAuthCode", st.SaveAuthCode(ctx, a.ID, "code-1", exp), nil)
	wantErr(t, "SaveAuthCode again", st.SaveAuthCode(ctx, a.ID, "code-2", exp), storage.ErrConflict)
	got, err := st.AuthRequestByID(ctx, a.ID)
	wantErr(t, "AuthRequestByID", err, nil)
	if got.CodeHash != "code-1" {
		t.Errorf("CodeHash = %q, want the first code", got.CodeHash)
	}
	wantTime(t, "CodeExpiresAt", got.CodeExpiresAt, exp)

	consumed := w.mustAuthRequest(t, st)
	wantErr(t, "ConsumeAuthRequest", st.ConsumeAuthRequest(ctx, consumed.ID, now()), nil)
	wantErr(t, "SaveAuthCode on a consumed request", st.SaveAuthCode(ctx, consumed.ID, "code-3", exp), storage.ErrConflict)
}

func testConsumeCode(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	at := now()
	live := w.mustCodeRequest(t, st, "live", at.Add(time.Minute))
	w.mustCodeRequest(t, st, "expired", at.Add(-time.Second))
	w.mustCodeRequest(t, st, "expires-now", at)
	consumed := w.mustCodeRequest(t, st, "consumed", at.Add(time.Minute))
	wantErr(t, "ConsumeAuthRequest", st.ConsumeAuthRequest(ctx, consumed.ID, at), nil)

	for _, tc := range []struct {
		name, hash string
		wantErr    error
		wantID     string // the request returned, if any
	}{
		{"unknown code", "nope", storage.ErrNotFound, ""},
		{"expired code", "expired", storage.ErrNotFound, ""},
		{"code at its expiry", "expires-now", storage.ErrNotFound, ""},
		{"first use", "live", nil, live.ID},
		{"second use", "live", storage.ErrConflict, live.ID},
		{"third use", "live", storage.ErrConflict, live.ID},
		{"request already consumed", "consumed", storage.ErrConflict, consumed.ID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := st.ConsumeCode(ctx, tc.hash, at)
			wantErr(t, "ConsumeCode", err, tc.wantErr)
			if got.ID != tc.wantID {
				t.Errorf("ConsumeCode returned request %q, want %q", got.ID, tc.wantID)
			}
			if tc.wantID != "" && (got.CodeUsedAt == nil && got.ConsumedAt == nil) {
				t.Errorf("ConsumeCode returned a request not marked used: %+v", got)
			}
		})
	}
	got, err := st.AuthRequestByID(ctx, live.ID)
	wantErr(t, "AuthRequestByID", err, nil)
	if got.CodeUsedAt == nil || !got.CodeUsedAt.Equal(at) {
		t.Errorf("CodeUsedAt = %v, want %v", got.CodeUsedAt, at)
	}
}

func testTokens(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	at, rt := tokenPair("grant-1", w.user, w.client.ID, now().Add(24*time.Hour))
	wantErr(t, "CreateTokens", st.CreateTokens(ctx, at, &rt), nil)
	gotAT, err := st.AccessTokenByID(ctx, at.ID)
	wantErr(t, "AccessTokenByID", err, nil)
	wantEqual(t, "AccessTokenByID", gotAT, at)
	gotRT, err := st.RefreshTokenByHash(ctx, rt.TokenHash)
	wantErr(t, "RefreshTokenByHash", err, nil)
	wantEqual(t, "RefreshTokenByHash", gotRT, rt)

	onlyAT, _ := tokenPair("grant-2", w.user, w.client.ID, now().Add(time.Hour))
	wantErr(t, "CreateTokens without refresh token", st.CreateTokens(ctx, onlyAT, nil), nil)
	_, err = st.AccessTokenByID(ctx, onlyAT.ID)
	wantErr(t, "AccessTokenByID", err, nil)

	t.Run("one transaction", func(t *testing.T) {
		at2, rt2 := tokenPair("grant-3", w.user, w.client.ID, now().Add(time.Hour))
		rt2.TokenHash = rt.TokenHash // duplicate: the whole call must fail
		wantErr(t, "CreateTokens with a duplicate refresh token", st.CreateTokens(ctx, at2, &rt2), storage.ErrAlreadyExists)
		_, err := st.AccessTokenByID(ctx, at2.ID)
		wantErr(t, "AccessTokenByID of the failed call", err, storage.ErrNotFound)
		wantErr(t, "CreateTokens with a duplicate access token", st.CreateTokens(ctx, at, nil), storage.ErrAlreadyExists)
	})

	t.Run("revoke access token", func(t *testing.T) {
		revokedAt := now()
		wantErr(t, "RevokeAccessToken by another client", st.RevokeAccessToken(ctx, at.ID, "other", revokedAt), nil)
		got, err := st.AccessTokenByID(ctx, at.ID)
		wantErr(t, "AccessTokenByID", err, nil)
		if got.RevokedAt != nil {
			t.Fatal("another client revoked the token")
		}
		wantErr(t, "RevokeAccessToken", st.RevokeAccessToken(ctx, at.ID, w.client.ID, revokedAt), nil)
		got, err = st.AccessTokenByID(ctx, at.ID)
		wantErr(t, "AccessTokenByID", err, nil)
		if got.RevokedAt == nil || !got.RevokedAt.Equal(revokedAt) {
			t.Errorf("RevokedAt = %v, want %v", got.RevokedAt, revokedAt)
		}
	})

	t.Run("revoke user tokens", func(t *testing.T) {
		bob := mustUser(t, st, w.tenant.ID, "bob@example.com")
		bobAT, bobRT := tokenPair("grant-bob", bob, w.client.ID, now().Add(time.Hour))
		wantErr(t, "CreateTokens", st.CreateTokens(ctx, bobAT, &bobRT), nil)
		wantErr(t, "RevokeUserTokens", st.RevokeUserTokens(ctx, w.user.ID, now()), nil)
		for _, id := range []string{at.ID, onlyAT.ID} {
			got, err := st.AccessTokenByID(ctx, id)
			wantErr(t, "AccessTokenByID", err, nil)
			if got.RevokedAt == nil {
				t.Errorf("access token %s not revoked", id)
			}
		}
		got, err := st.RefreshTokenByHash(ctx, rt.TokenHash)
		wantErr(t, "RefreshTokenByHash", err, nil)
		if got.RevokedAt == nil {
			t.Error("refresh token not revoked")
		}
		gotBob, err := st.AccessTokenByID(ctx, bobAT.ID)
		wantErr(t, "AccessTokenByID", err, nil)
		if gotBob.RevokedAt != nil {
			t.Error("another user's access token was revoked")
		}
	})
}

func testRotateRefreshToken(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	at0 := now()
	at, rt := tokenPair("grant", w.user, w.client.ID, at0.Add(time.Hour))
	wantErr(t, "CreateTokens", st.CreateTokens(ctx, at, &rt), nil)

	at1, rt1 := tokenPair("grant", w.user, w.client.ID, at0.Add(2*time.Hour))
	wantErr(t, "RotateRefreshToken", st.RotateRefreshToken(ctx, rt.TokenHash, at0, at1, rt1), nil)
	old, err := st.RefreshTokenByHash(ctx, rt.TokenHash)
	wantErr(t, "RefreshTokenByHash old", err, nil)
	if old.UsedAt == nil || !old.UsedAt.Equal(at0) {
		t.Errorf("old token UsedAt = %v, want %v", old.UsedAt, at0)
	}
	got, err := st.RefreshTokenByHash(ctx, rt1.TokenHash)
	wantErr(t, "RefreshTokenByHash new", err, nil)
	wantEqual(t, "new refresh token", got, rt1)
	_, err = st.AccessTokenByID(ctx, at1.ID)
	wantErr(t, "AccessTokenByID new", err, nil)

	// A refresh token for each refusal: used, expired, revoked, unknown.
	expAT, expRT := tokenPair("grant-exp", w.user, w.client.ID, at0.Add(-time.Second))
	wantErr(t, "CreateTokens expired", st.CreateTokens(ctx, expAT, &expRT), nil)
	revAT, revRT := tokenPair("grant-rev", w.user, w.client.ID, at0.Add(time.Hour))
	wantErr(t, "CreateTokens revoked", st.CreateTokens(ctx, revAT, &revRT), nil)
	_, err = st.RevokeGrant(ctx, "grant-rev", at0)
	wantErr(t, "RevokeGrant", err, nil)

	for _, tc := range []struct {
		name, hash string
		at         time.Time
	}{
		{"used token", rt.TokenHash, at0},
		{"expired token", expRT.TokenHash, at0},
		{"token at its expiry", rt1.TokenHash, rt1.ExpiresAt},
		{"revoked token", revRT.TokenHash, at0},
		{"unknown token", "nope", at0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nat, nrt := tokenPair("grant", w.user, w.client.ID, at0.Add(2*time.Hour))
			wantErr(t, "RotateRefreshToken", st.RotateRefreshToken(ctx, tc.hash, tc.at, nat, nrt), storage.ErrConflict)
			_, err := st.AccessTokenByID(ctx, nat.ID)
			wantErr(t, "AccessTokenByID of the refused rotation", err, storage.ErrNotFound)
			_, err = st.RefreshTokenByHash(ctx, nrt.TokenHash)
			wantErr(t, "RefreshTokenByHash of the refused rotation", err, storage.ErrNotFound)
		})
	}
}

func testRevokeGrant(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	at1, rt1 := tokenPair("grant-1", w.user, w.client.ID, now().Add(time.Hour))
	at2, _ := tokenPair("grant-1", w.user, w.client.ID, now().Add(time.Hour))
	other, otherRT := tokenPair("grant-2", w.user, w.client.ID, now().Add(time.Hour))
	wantErr(t, "CreateTokens", st.CreateTokens(ctx, at1, &rt1), nil)
	wantErr(t, "CreateTokens", st.CreateTokens(ctx, at2, nil), nil)
	wantErr(t, "CreateTokens", st.CreateTokens(ctx, other, &otherRT), nil)

	revokedAt := now()
	for _, tc := range []struct {
		name, grant string
		want        int64
	}{
		{"grant", "grant-1", 3},
		{"again", "grant-1", 0},
		{"unknown", "nope", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := st.RevokeGrant(ctx, tc.grant, revokedAt)
			wantErr(t, "RevokeGrant", err, nil)
			if n != tc.want {
				t.Errorf("RevokeGrant revoked %d tokens, want %d", n, tc.want)
			}
		})
	}
	for _, id := range []string{at1.ID, at2.ID} {
		got, err := st.AccessTokenByID(ctx, id)
		wantErr(t, "AccessTokenByID", err, nil)
		if got.RevokedAt == nil || !got.RevokedAt.Equal(revokedAt) {
			t.Errorf("access token RevokedAt = %v, want %v", got.RevokedAt, revokedAt)
		}
	}
	got, err := st.RefreshTokenByHash(ctx, rt1.TokenHash)
	wantErr(t, "RefreshTokenByHash", err, nil)
	if got.RevokedAt == nil {
		t.Error("refresh token of the grant not revoked")
	}
	gotOther, err := st.AccessTokenByID(ctx, other.ID)
	wantErr(t, "AccessTokenByID", err, nil)
	gotOtherRT, err := st.RefreshTokenByHash(ctx, otherRT.TokenHash)
	wantErr(t, "RefreshTokenByHash", err, nil)
	if gotOther.RevokedAt != nil || gotOtherRT.RevokedAt != nil {
		t.Error("RevokeGrant revoked another grant's tokens")
	}
}

// testCodeTokens: the code exchange's tokens are stored while the request's grant is live; after
// RevokeGrant on the request (a replay of its code), or for a request that is gone, nothing is stored.
func testCodeTokens(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	for _, tc := range []struct {
		name    string
		refresh bool
		revoke  bool // RevokeGrant on the request first
		gone    bool // no such request
		wantErr error
	}{
		{"with refresh token", true, false, false, nil},
		{"access token only", false, false, false, nil},
		{"grant revoked, with refresh token", true, true, false, storage.ErrConflict},
		{"grant revoked, access token only", false, true, false, storage.ErrConflict},
		{"request gone", true, false, true, storage.ErrConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code := storage.NewID()
			a := w.mustCodeRequest(t, st, code, now().Add(time.Minute))
			_, err := st.ConsumeCode(ctx, code, now())
			wantErr(t, "ConsumeCode", err, nil)
			id := a.ID
			if tc.gone {
				id = "no-such-request"
			}
			if tc.revoke {
				n, err := st.RevokeGrant(ctx, id, now())
				wantErr(t, "RevokeGrant", err, nil)
				wantEqual(t, "tokens revoked before any was stored", n, int64(0))
			}
			at, rt := tokenPair(id, w.user, w.client.ID, now().Add(time.Hour))
			var refresh *storage.RefreshToken
			if tc.refresh {
				refresh = &rt
			}
			wantErr(t, "CreateCodeTokens", st.CreateCodeTokens(ctx, id, at, refresh), tc.wantErr)
			gotAT, errAT := st.AccessTokenByID(ctx, at.ID)
			_, errRT := st.RefreshTokenByHash(ctx, rt.TokenHash)
			if tc.wantErr != nil {
				wantErr(t, "AccessTokenByID of refused tokens", errAT, storage.ErrNotFound)
				wantErr(t, "RefreshTokenByHash of refused tokens", errRT, storage.ErrNotFound)
				return
			}
			wantErr(t, "AccessTokenByID", errAT, nil)
			wantEqual(t, "access token", gotAT, at)
			if tc.refresh {
				wantErr(t, "RefreshTokenByHash", errRT, nil)
			} else {
				wantErr(t, "RefreshTokenByHash without a refresh token", errRT, storage.ErrNotFound)
			}
			// Revoked afterwards, the grant takes what was stored and refuses more.
			n, err := st.RevokeGrant(ctx, id, now())
			wantErr(t, "RevokeGrant", err, nil)
			if want := map[bool]int64{false: 1, true: 2}[tc.refresh]; n != want {
				t.Errorf("RevokeGrant revoked %d tokens, want %d", n, want)
			}
			more, _ := tokenPair(id, w.user, w.client.ID, now().Add(time.Hour))
			wantErr(t, "CreateCodeTokens after RevokeGrant", st.CreateCodeTokens(ctx, id, more, nil), storage.ErrConflict)
		})
	}
	t.Run("one transaction", func(t *testing.T) {
		code := storage.NewID()
		a := w.mustCodeRequest(t, st, code, now().Add(time.Minute))
		at, rt := tokenPair(a.ID, w.user, w.client.ID, now().Add(time.Hour))
		wantErr(t, "CreateCodeTokens", st.CreateCodeTokens(ctx, a.ID, at, &rt), nil)
		at2, rt2 := tokenPair(a.ID, w.user, w.client.ID, now().Add(time.Hour))
		rt2.TokenHash = rt.TokenHash // duplicate: the whole call must fail
		wantErr(t, "CreateCodeTokens with a duplicate refresh token", st.CreateCodeTokens(ctx, a.ID, at2, &rt2), storage.ErrAlreadyExists)
		_, err := st.AccessTokenByID(ctx, at2.ID)
		wantErr(t, "AccessTokenByID of the failed call", err, storage.ErrNotFound)
	})
}

// testEndSignInsInFlight: where a user's sessions end because a factor or the password changed, their
// sign-ins that proved the old factors end too (whether waiting at the callback or holding a code not
// yet redeemed); a redeemed sign-in stays (replay tracing), and other users' sign-ins are untouched.
// Removing a key ends only the sign-ins that recorded it.
func testEndSignInsInFlight(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	const hwk = "hwk"
	signIn := func(u storage.User, factors []string) storage.AuthRequest {
		t.Helper()
		a := w.mustAuthRequest(t, st)
		wantErr(t, "BindAuthRequest", st.BindAuthRequest(ctx, a.ID, "browser-"+a.ID), nil)
		a.BrowserHash = "browser-" + a.ID
		wantErr(t, "RecordLogin", st.RecordLogin(ctx, a, u.ID, factors, now(), storage.Proof{}), nil)
		return a
	}
	alive := func(what string, a storage.AuthRequest, want bool) {
		t.Helper()
		_, err := st.AuthRequestByID(ctx, a.ID)
		if got := err == nil; got != want {
			t.Errorf("%s: sign-in alive = %v (%v), want %v", what, got, err, want)
		}
	}
	for _, tc := range []struct {
		name string
		end  func(u storage.User) error
	}{
		{"DeleteUserSessions", func(u storage.User) error { return st.DeleteUserSessions(ctx, u.ID) }},
		{"DeleteOtherSessions", func(u storage.User) error { return st.DeleteOtherSessions(ctx, u.ID, "kept") }},
		{"ResetMFA", func(u storage.User) error {
			return st.ResetMFA(ctx, u.ID, nil, storage.AuditEvent{TenantID: u.TenantID, Action: "mfa.reset", CreatedAt: now()})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := mustUser(t, st, w.tenant.ID, storage.NewID()+"@example.com")
			other := mustUser(t, st, w.tenant.ID, storage.NewID()+"@example.com")
			parked := signIn(u, []string{factorPassword, factorOTP})
			coded := signIn(u, []string{factorPassword, factorOTP})
			wantErr(t, "SaveAuthCode", st.SaveAuthCode(ctx, coded.ID, "code-"+coded.ID, now().Add(time.Minute)), nil)
			redeemed := signIn(u, []string{factorPassword})
			wantErr(t, "SaveAuthCode", st.SaveAuthCode(ctx, redeemed.ID, "code-"+redeemed.ID, now().Add(time.Minute)), nil)
			_, err := st.ConsumeCode(ctx, "code-"+redeemed.ID, now())
			wantErr(t, "ConsumeCode", err, nil)
			others := signIn(other, []string{factorPassword})

			wantErr(t, tc.name, tc.end(u), nil)
			alive("parked at the callback", parked, false)
			alive("code not redeemed", coded, false)
			alive("code redeemed", redeemed, true)
			alive("another user's", others, true)
		})
	}
	t.Run("DeleteCredential", func(t *testing.T) {
		u := mustUser(t, st, w.tenant.ID, storage.NewID()+"@example.com")
		c, err := st.CreateCredential(ctx, storage.WebAuthnCredential{CredentialID: []byte(storage.NewID()), UserID: u.ID, TenantID: u.TenantID,
			PublicKey: []byte("pk"), Name: "key", CreatedAt: now()})
		wantErr(t, "CreateCredential", err, nil)
		withKey := signIn(u, []string{factorPassword, hwk})
		withCode := signIn(u, []string{factorPassword, factorOTP})
		// Tokens of a key sign-in are revoked with the key; tokens of a code sign-in stay.
		keyAT, keyRT := tokenPair("grant-key-"+u.ID, u, w.client.ID, now().Add(24*time.Hour))
		keyAT.AMR, keyRT.AMR = []string{"hwk", "user", "mfa"}, []string{"hwk", "user", "mfa"}
		wantErr(t, "CreateTokens", st.CreateTokens(ctx, keyAT, &keyRT), nil)
		codeAT, codeRT := tokenPair("grant-code-"+u.ID, u, w.client.ID, now().Add(24*time.Hour))
		codeAT.AMR, codeRT.AMR = []string{"pwd", "otp", "mfa"}, []string{"pwd", "otp", "mfa"}
		wantErr(t, "CreateTokens", st.CreateTokens(ctx, codeAT, &codeRT), nil)
		wantErr(t, "DeleteCredential", st.DeleteCredential(ctx, u.ID, c.ID, hwk, "hwk",
			storage.AuditEvent{TenantID: u.TenantID, Action: "mfa.key_removed", CreatedAt: now()}), nil)
		alive("signed in with a key", withKey, false)
		alive("signed in with a code", withCode, true)
		for _, tc := range []struct {
			name    string
			at      storage.AccessToken
			rt      storage.RefreshToken
			revoked bool
		}{{"key sign-in", keyAT, keyRT, true}, {"code sign-in", codeAT, codeRT, false}} {
			gotAT, err := st.AccessTokenByID(ctx, tc.at.ID)
			wantErr(t, "AccessTokenByID", err, nil)
			gotRT, err := st.RefreshTokenByHash(ctx, tc.rt.TokenHash)
			wantErr(t, "RefreshTokenByHash", err, nil)
			if (gotAT.RevokedAt != nil) != tc.revoked || (gotRT.RevokedAt != nil) != tc.revoked {
				t.Errorf("%s tokens after the key's removal: access revoked %v, refresh revoked %v, want %v",
					tc.name, gotAT.RevokedAt != nil, gotRT.RevokedAt != nil, tc.revoked)
			}
		}
	})
}

package storagetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/storage"
)

// raceRounds is how many times two different writes race in the tests below (unlike race, which
// starts many copies of one compare-and-set): each round is one chance for the interleaving that
// matters, which lands in a fraction of them.
const raceRounds = 50

// both runs f and g in two goroutines released together and returns their errors.
func both(f, g func() error) (error, error) {
	start := make(chan struct{})
	var errF, errG error
	var wg sync.WaitGroup
	wg.Go(func() { <-start; errF = f() })
	wg.Go(func() { <-start; errG = g() })
	close(start)
	wg.Wait()
	return errF, errG
}

// wantRevokedOrAbsent fails unless the access and refresh token are both revoked (stored = true: the
// write that made them succeeded) or both absent.
func wantRevokedOrAbsent(t *testing.T, round int, st *storage.Store, at storage.AccessToken, rt *storage.RefreshToken, stored bool) {
	t.Helper()
	gotAT, errAT := st.AccessTokenByID(t.Context(), at.ID)
	switch {
	case !stored && !errors.Is(errAT, storage.ErrNotFound):
		t.Errorf("round %d: a refused write stored its access token (%v)", round, errAT)
	case stored && errAT != nil:
		t.Fatalf("round %d: AccessTokenByID: %v", round, errAT)
	case stored && gotAT.RevokedAt == nil:
		t.Errorf("round %d: the access token written beside the revocation survived it", round)
	}
	if rt == nil {
		return
	}
	gotRT, errRT := st.RefreshTokenByHash(t.Context(), rt.TokenHash)
	switch {
	case !stored && !errors.Is(errRT, storage.ErrNotFound):
		t.Errorf("round %d: a refused write stored its refresh token (%v)", round, errRT)
	case stored && errRT != nil:
		t.Fatalf("round %d: RefreshTokenByHash: %v", round, errRT)
	case stored && gotRT.RevokedAt == nil:
		t.Errorf("round %d: the refresh token written beside the revocation survived it", round)
	}
}

// testConcurrentRevokeGrantAndRotation: the holder of a family's current refresh token rotates it
// while a spent one of the family is presented (reuse: the family is revoked). Whichever way they
// interleave, the rotation either is refused or its new tokens are revoked too.
func testConcurrentRevokeGrantAndRotation(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	stored := 0
	for round := range raceRounds {
		grant := storage.NewID()
		at0 := now()
		at, rt := tokenPair(grant, w.user, w.client.ID, at0.Add(time.Hour))
		wantErr(t, "CreateTokens", st.CreateTokens(ctx, at, &rt), nil)
		at1, rt1 := tokenPair(grant, w.user, w.client.ID, at0.Add(time.Hour))
		wantErr(t, "RotateRefreshToken", st.RotateRefreshToken(ctx, rt.TokenHash, at0, at1, rt1), nil)
		at2, rt2 := tokenPair(grant, w.user, w.client.ID, at0.Add(time.Hour))
		errRotate, errRevoke := both(
			func() error { return st.RotateRefreshToken(ctx, rt1.TokenHash, now(), at2, rt2) },
			func() error { _, err := st.RevokeGrant(ctx, grant, now()); return err })
		wantErr(t, "RevokeGrant", errRevoke, nil)
		if errRotate != nil && !errors.Is(errRotate, storage.ErrConflict) {
			t.Fatalf("round %d: RotateRefreshToken: %v", round, errRotate)
		}
		wantRevokedOrAbsent(t, round, st, at2, &rt2, errRotate == nil)
		if errRotate == nil {
			stored++
		}
	}
	t.Logf("the rotation stored its tokens in %d of %d rounds and was refused in the others", stored, raceRounds)
}

// testConcurrentRevokeGrantAndCodeTokens: the first exchange of a code stores its tokens while a
// replay of the code revokes the grant. Either the tokens are refused or the revocation takes them.
func testConcurrentRevokeGrantAndCodeTokens(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	stored := 0
	for round := range raceRounds {
		code := storage.NewID()
		a := w.mustCodeRequest(t, st, code, now().Add(time.Minute))
		_, err := st.ConsumeCode(ctx, code, now())
		wantErr(t, "ConsumeCode", err, nil)
		at, rt := tokenPair(a.ID, w.user, w.client.ID, now().Add(time.Hour))
		var refresh *storage.RefreshToken
		if round%2 == 0 { // with and without a refresh token (offline_access)
			refresh = &rt
		}
		errCreate, errRevoke := both(
			func() error { return st.CreateCodeTokens(ctx, a.ID, at, refresh) },
			func() error { _, err := st.RevokeGrant(ctx, a.ID, now()); return err })
		wantErr(t, "RevokeGrant", errRevoke, nil)
		if errCreate != nil && !errors.Is(errCreate, storage.ErrConflict) {
			t.Fatalf("round %d: CreateCodeTokens: %v", round, errCreate)
		}
		wantRevokedOrAbsent(t, round, st, at, refresh, errCreate == nil)
		if errCreate == nil {
			stored++
		}
	}
	t.Logf("the exchange stored its tokens in %d of %d rounds and was refused in the others", stored, raceRounds)
}

// testConcurrentUpdateUser: two updates of one user at once each edit what the other wrote; neither
// writes back a stale copy of the field the other changed (a rename must not undo a disable).
func testConcurrentUpdateUser(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	for round := range raceRounds {
		u := mustUser(t, st, w.tenant.ID, storage.NewID()+"@example.com")
		errDisable, errRename := both(
			func() error {
				_, err := st.UpdateUser(ctx, u.ID, func(x *storage.User) error { x.Disabled = true; return nil })
				return err
			},
			func() error {
				_, err := st.UpdateUser(ctx, u.ID, func(x *storage.User) error { x.Name = "renamed"; return nil })
				return err
			})
		wantErr(t, "UpdateUser disable", errDisable, nil)
		wantErr(t, "UpdateUser rename", errRename, nil)
		got, err := st.UserByID(ctx, u.ID)
		wantErr(t, "UserByID", err, nil)
		if !got.Disabled || got.Name != "renamed" {
			t.Errorf("round %d: after a concurrent disable and rename: disabled %v, name %q", round, got.Disabled, got.Name)
		}
	}
}

// testConcurrentRevokeUserTokensAndWrites: the user's password is changed (every token of theirs
// revoked) while one of their apps rotates a refresh token and another exchanges a code it has just
// redeemed. Whichever way they interleave, each write is refused or its tokens are revoked.
func testConcurrentRevokeUserTokensAndWrites(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	rotated, exchanged := 0, 0
	for round := range raceRounds {
		grant := storage.NewID()
		at, rt := tokenPair(grant, w.user, w.client.ID, now().Add(time.Hour))
		wantErr(t, "CreateTokens", st.CreateTokens(ctx, at, &rt), nil)
		at1, rt1 := tokenPair(grant, w.user, w.client.ID, now().Add(time.Hour))
		code := storage.NewID()
		a := w.mustCodeRequest(t, st, code, now().Add(time.Minute))
		_, err := st.ConsumeCode(ctx, code, now())
		wantErr(t, "ConsumeCode", err, nil)
		at2, rt2 := tokenPair(a.ID, w.user, w.client.ID, now().Add(time.Hour))
		var errRotate, errCreate error
		errWrites, errRevoke := both(
			func() error {
				errRotate, errCreate = both(
					func() error { return st.RotateRefreshToken(ctx, rt.TokenHash, now(), at1, rt1) },
					func() error { return st.CreateCodeTokens(ctx, a.ID, at2, &rt2) })
				return nil
			},
			func() error { return st.RevokeUserTokens(ctx, w.user.ID, now()) })
		wantErr(t, "writes", errWrites, nil)
		wantErr(t, "RevokeUserTokens", errRevoke, nil)
		for name, err := range map[string]error{"RotateRefreshToken": errRotate, "CreateCodeTokens": errCreate} {
			if err != nil && !errors.Is(err, storage.ErrConflict) {
				t.Fatalf("round %d: %s: %v", round, name, err)
			}
		}
		wantRevokedOrAbsent(t, round, st, at1, &rt1, errRotate == nil)
		wantRevokedOrAbsent(t, round, st, at2, &rt2, errCreate == nil)
		if errRotate == nil {
			rotated++
		}
		if errCreate == nil {
			exchanged++
		}
	}
	t.Logf("of %d rounds, the rotation stored its tokens in %d and the exchange in %d (revoked after)", raceRounds, rotated, exchanged)
}

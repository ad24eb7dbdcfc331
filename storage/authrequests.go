package storage

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// BindAuthRequest ties the auth request to one browser (the hash of its login cookie). The first
// binding wins; binding again with the same hash succeeds, any other hash gets ErrConflict.
func (s *Store) BindAuthRequest(ctx context.Context, id, browserHash string) error {
	_, err := s.BindAuthRequestFresh(ctx, id, browserHash)
	return err
}

// BindAuthRequestFresh is BindAuthRequest that also reports whether this call bound the request (it was
// unbound): then no step can have changed it since it was created, as every step needs the binding.
func (s *Store) BindAuthRequestFresh(ctx context.Context, id, browserHash string) (bool, error) {
	res, err := s.execOn(ctx, s.pool(), bindAuthRequestSQL, browserHash, id)
	if err != nil {
		return false, s.translateSQL("bind auth request", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, s.translateSQL("bind auth request", err)
	} else if n == 1 {
		return true, nil
	}
	a, err := s.AuthRequestByID(ctx, id)
	if err != nil {
		return false, err
	}
	if a.BrowserHash != browserHash {
		return false, translate("bind auth request", ErrConflict)
	}
	return false, nil
}

const bindAuthRequestSQL = `UPDATE auth_requests SET browser_hash = ? WHERE id = ? AND browser_hash = ''`

// DeleteAuthRequest removes the request (a locked-out or cancelled sign-in).
func (s *Store) DeleteAuthRequest(ctx context.Context, id string) error {
	return translate("delete auth request", s.ctx(ctx).Where("id = ?", id).Delete(&authRequestRow{}).Error)
}

// RevokeGrant revokes every access and refresh token that a grant (an auth request, and the refresh
// family it started) produced, and every token it could still produce: a code exchange of the request
// that has not stored its tokens yet is refused (CreateCodeTokens), and a rotation of the family either
// is refused or has its tokens revoked here. It returns how many tokens it revoked.
//
// The writes it races run without a transaction around the read that allowed them: the first exchange
// of a code marks the code used in one statement and stores its tokens in another, later; a rotation
// was allowed by a read of the token before its compare-and-set. So what RevokeGrant must not miss may
// be committed while it runs. On SQLite every write is serialised on the one writer connection, so the
// other write lands wholly before or after this transaction. On PostgreSQL under READ COMMITTED each
// statement sees the rows committed before it started, and a statement that meets a row another
// transaction has locked waits for it and then re-checks its WHERE clause on the row's newest version
// (UPDATE, SELECT FOR UPDATE); the statements below rely on exactly that.
//
//  1. Mark the auth request (grant_revoked_at). The code exchange's insert locks the same row (FOR
//     UPDATE) and stores its tokens only if the row is not marked. Either the insert locks it first:
//     then the mark waits until the insert has committed, and the statements after the mark, each
//     with a newer snapshot, see the tokens and revoke them. Or the mark comes first: then the insert
//     waits for this transaction, re-checks the row, finds it marked and stores nothing (a snapshot of
//     the insert older than the mark changes nothing: the re-check reads the newest version). No
//     single statement could do both steps: its snapshot would predate the tokens it waited for.
//  2. Revoke the family's refresh tokens, again and again until a pass finds none. A rotation needs a
//     token of the family that is unrevoked at the moment it locks it (its compare-and-set). If that
//     token is in a pass's snapshot, the pass either locks it first (the rotation then waits, re-checks
//     and is refused) or waits for the rotation and revokes it after: and then the next pass's
//     snapshot holds the rotation's new tokens. A token that is not in a pass's snapshot was made after
//     it by a rotation of a token that was, or of one made the same way (a code exchange cannot
//     commit after the mark, see 1): follow the chain back to a token the pass saw. So a pass that
//     revokes nothing proves that no rotation of the family can commit after it.
//  3. Revoke the access tokens, in a statement after that pass: every access token of the grant was
//     committed before it (a rotation writes its access token with its refresh token), so it sees them
//     all.
//
// A higher isolation level (or a distributed PostgreSQL-compatible database) turns the same conflicts
// into serialization failures, and the transaction is retried.
func (s *Store) RevokeGrant(ctx context.Context, grantID string, now time.Time) (int64, error) {
	now = utc(now)
	var n int64
	var busy bool
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		n, busy = 0, false
		if err := tx.Exec(markGrantRevokedSQL, now, grantID).Error; err != nil {
			return err
		}
		for pass := 0; ; pass++ {
			if pass == maxRevokePasses { // the holder rotates faster than these statements run: keep what
				busy = true // was revoked, and say so
				break
			}
			res := tx.Model(&refreshTokenRow{}).Where("grant_id = ? AND revoked_at IS NULL", grantID).Update("revoked_at", now)
			if res.Error != nil {
				return res.Error
			}
			n += res.RowsAffected
			if res.RowsAffected == 0 {
				break
			}
		}
		res := tx.Model(&accessTokenRow{}).Where("grant_id = ? AND revoked_at IS NULL", grantID).Update("revoked_at", now)
		n += res.RowsAffected
		return res.Error
	})
	if err == nil && busy {
		err = fmt.Errorf("refresh tokens of the grant were still being issued after %d passes", maxRevokePasses)
	}
	return n, translate("revoke grant", err)
}

const markGrantRevokedSQL = `UPDATE auth_requests SET grant_revoked_at = ? WHERE id = ? AND grant_revoked_at IS NULL`

// maxRevokePasses bounds RevokeGrant's passes over the refresh tokens. Each pass after the first needs a
// rotation of the family that committed during the previous one (a whole token request of its holder,
// made with a token issued during that pass): two passes are the rule.
const maxRevokePasses = 16

// endSignInsInFlight ends the user's sign-ins that have not yielded tokens yet (no code redeemed), in
// tx: wherever their sessions end because a factor was reset or removed or the password changed, a
// sign-in that proved the old factors (parked at the provider's callback, or its code not yet
// redeemed) must not finish afterwards. With factor, only the sign-ins that recorded it end. A sign-in
// whose code was redeemed stays for tracing a replay; its tokens are revoked with the user's.
func endSignInsInFlight(tx *gorm.DB, userID, factor string) error {
	q := tx.Where("user_id = ? AND code_used_at IS NULL AND consumed_at IS NULL", userID)
	if factor != "" {
		holds, args := holdsAnyWord("factors", []string{factor})
		q = q.Where(holds, args...)
	}
	return translate("end sign-ins in flight", q.Delete(&authRequestRow{}).Error)
}

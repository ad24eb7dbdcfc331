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
// redeemed) must not finish afterwards. With factors, only the sign-ins that recorded any of them end.
// A sign-in whose code was redeemed stays for tracing a replay; its tokens are revoked with the user's.
// Changes call it through endSessionsAndSignIns, which orders it with the end of the sessions.
func endSignInsInFlight(tx *gorm.DB, userID string, factors []string) error {
	q := tx.Where("user_id = ? AND code_used_at IS NULL AND consumed_at IS NULL", userID)
	if len(factors) > 0 {
		holds, args := holdsAnyWord("factors", factors)
		q = q.Where(holds, args...)
	}
	return translate("end sign-ins in flight", q.Delete(&authRequestRow{}).Error)
}

// endSessionsAndSignIns ends the user's sessions that the condition sessions (with args) selects and
// their sign-ins in flight (endSignInsInFlight with factors), in tx, the transaction of a change that
// makes a credential stop counting: a password set, a user disabled or deleted, an MFA reset, a key
// removed, an app replaced. The change must have updated, deleted or locked the credential's row (the
// user's, for a password or the user's state) before it calls this, in the same transaction.
//
// The sign-in steps it races run without a transaction around the check that allowed them: a step
// verifies a password (or a code, a key, a session) against what it read, then records its login on
// the auth request (RecordLogin, RebindAndRecordLogin), and the sign-in then stores its session
// (CreateSignInSession), each in a statement of its own. So what this must not miss may be committed
// while it runs. On SQLite every write is serialised on the one writer connection, so each of those
// statements lands wholly before this transaction (which then ends what it wrote) or after it (which
// then finds the credential changed or the request gone). On PostgreSQL under READ COMMITTED each
// statement sees the rows committed before it started, and a statement that meets a row another
// transaction has locked waits for it and then re-checks its conditions on the row's newest version
// (UPDATE, DELETE, SELECT FOR SHARE); the statements below rely on exactly that.
//
//  0. A step's record is conditioned on what it verified (Proof), read and locked (FOR SHARE) by the
//     record's statement: the user's password hash and enabled state, the authenticator app, the key.
//     The change wrote (or locked) that row first: either the record locked it before, and then the
//     change waited until the record committed, so every statement below (each with a newer snapshot)
//     sees the recorded request; or the change came first, and then the record waits for the change,
//     re-reads the row as the change left it and records nothing. (A record on a request that names the
//     user already also meets the request's own row, which the sign-ins' delete locks.)
//  1. End the sessions. A sign-in that carries a session's factors over records them on condition of
//     the session (0), locking it: either the record came first, and then this delete waited for it,
//     and the sign-ins' delete (2), a later statement, sees the recorded request; or the record finds
//     the session gone.
//  2. End the sign-ins in flight. Storing a sign-in's session reads and locks (FOR SHARE) its auth
//     request and stores the session only if the request still names that user with those factors.
//     Either it locks the request first: then this delete waits until the session is committed, and
//     the sessions' delete (3) sees it. Or the delete comes first: then the insert waits for this
//     transaction, finds the request gone and stores nothing.
//  3. End the sessions again: those that 2 waited for. If this deletes none, no session can be stored
//     after it: that would need a request recorded after 2's snapshot, which only a carry-over can do
//     (0 and 2 refuse or end every other record), of a session that 3 did not delete, so of one
//     committed after 3's snapshot, stored the same way in its turn: no first such session exists.
//     Otherwise a session that 3 deleted may have been carried over meanwhile (a browser's whole
//     request between two statements: in theory), so 2 and 3 run again, until 3 deletes none.
//
// A session is stored after the request's lock, and then its foreign keys lock the user's and the
// tenant's rows (FOR KEY SHARE): a change that holds such a row with FOR UPDATE while it deletes a
// request makes a deadlock, which PostgreSQL breaks by failing one of the two (both retry). So the
// user's and the tenant's rows are locked with FOR NO KEY UPDATE (UpdateUser, DeleteUser, LockUser,
// LockTenant), which those checks pass.
func endSessionsAndSignIns(tx *gorm.DB, userID string, factors []string, sessions string, args ...any) error {
	if err := tx.Where(sessions, args...).Delete(&sessionRow{}).Error; err != nil {
		return translate("end sessions", err)
	}
	for range maxEndPasses {
		if err := endSignInsInFlight(tx, userID, factors); err != nil {
			return err
		}
		res := tx.Where(sessions, args...).Delete(&sessionRow{})
		if res.Error != nil || res.RowsAffected == 0 {
			return translate("end sessions", res.Error)
		}
	}
	return fmt.Errorf("end sessions: sign-ins of the user were still storing sessions after %d passes", maxEndPasses)
}

// maxEndPasses bounds endSessionsAndSignIns's passes. Each pass after the first needs a session stored
// during the previous one and carried over into a new sign-in before its end: one pass is the rule.
const maxEndPasses = 8

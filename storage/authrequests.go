package storage

import (
	"context"
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

// RevokeGrant revokes every access and refresh token that a grant (an auth request or a refresh family)
// produced. It returns how many tokens it revoked.
func (s *Store) RevokeGrant(ctx context.Context, grantID string, now time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		n = 0
		res := tx.Model(&accessTokenRow{}).Where("grant_id = ? AND revoked_at IS NULL", grantID).Update("revoked_at", utc(now))
		if res.Error != nil {
			return res.Error
		}
		n += res.RowsAffected
		res = tx.Model(&refreshTokenRow{}).Where("grant_id = ? AND revoked_at IS NULL", grantID).Update("revoked_at", utc(now))
		n += res.RowsAffected
		return res.Error
	})
	return n, translate("revoke grant", err)
}

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

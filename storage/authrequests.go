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
	res, err := s.db.Statement.ConnPool.ExecContext(ctx, s.rebind(bindAuthRequestSQL), browserHash, id)
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

// CreateAuthRequest stores a new auth request.
func (s *Store) CreateAuthRequest(ctx context.Context, a AuthRequest) error {
	r := authRequestToRow(a)
	return translate("create auth request", s.ctx(ctx).Create(&r).Error)
}

// RebindBrowser moves every sign-in in flight that is bound to oldHash (one browser's login cookie) to
// newHash, in one statement. The login UI mints a new cookie value at every step, so a value that was
// planted in or copied from a browser is worth nothing after that browser's next step.
func (s *Store) RebindBrowser(ctx context.Context, oldHash, newHash string) error {
	if oldHash == "" || newHash == "" {
		return nil
	}
	res := s.ctx(ctx).Model(&authRequestRow{}).Where("browser_hash = ? AND code_hash IS NULL AND consumed_at IS NULL", oldHash).
		Update("browser_hash", newHash)
	return translate("rebind browser", res.Error)
}

// RecordLogin sets who is signing in and the factors proven so far, as one compare-and-set against the
// state the caller read (prev): the same browser, the same or no user, the same factors, and no code
// issued yet. Anything else is ErrConflict, so a stale or parallel step can never add a factor.
func (s *Store) RecordLogin(ctx context.Context, prev AuthRequest, userID string, factors []string, authTime time.Time) error {
	res := s.ctx(ctx).Model(&authRequestRow{}).
		Where("id = ? AND browser_hash = ? AND browser_hash <> '' AND user_id = ? AND factors = ? AND code_hash IS NULL AND consumed_at IS NULL",
			prev.ID, prev.BrowserHash, prev.UserID, join(prev.Factors)).
		Updates(map[string]any{"user_id": userID, "factors": join(factors), "auth_time": utc(authTime)})
	if res.Error != nil {
		return translate("record login", res.Error)
	}
	if res.RowsAffected != 1 {
		return translate("record login", ErrConflict)
	}
	return nil
}

// SaveAuthCode records the hash of the code issued for the request. It succeeds once per request.
func (s *Store) SaveAuthCode(ctx context.Context, id, codeHash string, expiresAt time.Time) error {
	// The request lives at least as long as its code, so the sweeper cannot take it from under an exchange.
	res := s.ctx(ctx).Model(&authRequestRow{}).Where("id = ? AND code_hash IS NULL AND consumed_at IS NULL", id).
		Updates(map[string]any{"code_hash": codeHash, "code_expires_at": utc(expiresAt),
			"expires_at": gorm.Expr("CASE WHEN expires_at < ? THEN ? ELSE expires_at END", utc(expiresAt), utc(expiresAt))})
	if res.Error != nil {
		return translate("save auth code", res.Error)
	}
	if res.RowsAffected != 1 {
		return translate("save auth code", ErrConflict)
	}
	return nil
}

// ConsumeAuthRequest marks the request as spent after its tokens were issued; it stays until it
// expires so that a replayed code can still be traced to the tokens it produced.
func (s *Store) ConsumeAuthRequest(ctx context.Context, id string, now time.Time) error {
	err := s.ctx(ctx).Model(&authRequestRow{}).Where("id = ? AND consumed_at IS NULL", id).Update("consumed_at", utc(now)).Error
	return translate("consume auth request", err)
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
		q = q.Where("(' ' || factors || ' ') LIKE ?", "% "+factor+" %") // factors are space-separated words
	}
	return translate("end sign-ins in flight", q.Delete(&authRequestRow{}).Error)
}

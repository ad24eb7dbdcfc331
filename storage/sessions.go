package storage

import (
	"context"

	"gorm.io/gorm"
)

// SessionByID returns the session, expired or not (the caller checks ExpiresAt).
func (s *Store) SessionByID(ctx context.Context, id string) (Session, error) {
	var r sessionRow
	if err := s.ctx(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return Session{}, translate("session by id", err)
	}
	return sessionFromRow(r), nil
}

// DeleteSession ends one session; ending a missing one is not an error.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return translate("delete session", s.ctx(ctx).Where("id = ?", id).Delete(&sessionRow{}).Error)
}

// DeleteUserSessions ends every session of the user, and their sign-ins in flight (endSignInsInFlight).
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) error {
	return s.inTx(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("user_id = ?", userID).Delete(&sessionRow{}).Error; err != nil {
			return translate("delete user sessions", err)
		}
		return endSignInsInFlight(tx, userID, "")
	})
}

// DeleteOtherSessions ends every session of the user except keepID (the browser that asked), and their
// sign-ins in flight (endSignInsInFlight).
func (s *Store) DeleteOtherSessions(ctx context.Context, userID, keepID string) error {
	return s.inTx(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("user_id = ? AND id <> ?", userID, keepID).Delete(&sessionRow{}).Error; err != nil {
			return translate("delete other sessions", err)
		}
		return endSignInsInFlight(tx, userID, "")
	})
}

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

// DeleteUserSessions ends every session of the user, and their sign-ins in flight
// (endSessionsAndSignIns: call it after the change that ends them, in the same transaction).
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) error {
	return s.inTx(ctx, func(tx *gorm.DB) error {
		return translate("delete user sessions", endSessionsAndSignIns(tx, userID, nil, "user_id = ?", userID))
	})
}

// DeleteOtherSessions ends every session of the user except keepID (the browser that asked), and their
// sign-ins in flight (endSessionsAndSignIns: call it after the change that ends them, in the same
// transaction).
func (s *Store) DeleteOtherSessions(ctx context.Context, userID, keepID string) error {
	return s.inTx(ctx, func(tx *gorm.DB) error {
		return translate("delete other sessions", endSessionsAndSignIns(tx, userID, nil, "user_id = ? AND id <> ?", userID, keepID))
	})
}

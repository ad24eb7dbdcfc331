package storage

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Throttle returns the failure counter for key; a key never seen is a zero Throttle, not an error.
func (s *Store) Throttle(ctx context.Context, key string) (Throttle, error) {
	var r throttleRow
	err := s.queryRow(ctx, throttleSQL, key).Scan(&r.Failures, &r.LockedUntil, &r.UpdatedAt)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Throttle{}, s.translateSQL("throttle", err)
	}
	return Throttle{Key: key, Failures: r.Failures, LockedUntil: utc(r.LockedUntil), UpdatedAt: utc(r.UpdatedAt)}, nil
}

// Read at every password and code step: database/sql, not gorm (hotpaths.go).
const (
	throttleSQL       = `SELECT failures, locked_until, updated_at FROM throttles WHERE key = ?`
	throttleResetSQL  = `DELETE FROM throttles WHERE key = ?`
	throttlePaceOfSQL = `SELECT tat FROM throttle_paces WHERE key = ?`
)

// ThrottleFail counts one more failure for key, atomically (an upsert that increments in the database,
// so instances racing on one key never lose a count), then stores the lock that lockFor returns for the
// new count. It returns the updated counter.
func (s *Store) ThrottleFail(ctx context.Context, key string, now time.Time, lockFor func(failures int) time.Duration) (Throttle, error) {
	var failures int
	err := s.ctx(ctx).Raw(`INSERT INTO throttles (key, failures, locked_until, updated_at) VALUES (?, 1, ?, ?)
		ON CONFLICT (key) DO UPDATE SET failures = throttles.failures + 1, updated_at = excluded.updated_at
		RETURNING failures`, key, utc(now), utc(now)).Scan(&failures).Error
	if err != nil {
		return Throttle{}, translate("throttle fail", err)
	}
	t := Throttle{Key: key, Failures: failures, LockedUntil: utc(now), UpdatedAt: utc(now)}
	if d := lockFor(failures); d > 0 {
		t.LockedUntil = utc(now.Add(d))
		// Only ever extend a lock: a slower racer with a smaller count must not shorten it.
		if err := s.ctx(ctx).Model(&throttleRow{}).Where("key = ? AND locked_until < ?", key, t.LockedUntil).
			UpdateColumn("locked_until", t.LockedUntil).Error; err != nil {
			return Throttle{}, translate("throttle fail", err)
		}
	}
	// Report the lock the database holds, which a racer may have made longer.
	if cur, err := s.Throttle(ctx, key); err == nil && cur.LockedUntil.After(t.LockedUntil) {
		t.LockedUntil = cur.LockedUntil
	}
	return t, nil
}

// ThrottleReset clears the counter after a success.
func (s *Store) ThrottleReset(ctx context.Context, key string) error {
	_, err := s.exec(ctx, "throttle reset", throttleResetSQL, key)
	return err
}

type throttleAccountRow struct {
	Key       string `gorm:"primaryKey"`
	Account   string `gorm:"primaryKey"`
	ExpiresAt time.Time
}

func (throttleAccountRow) TableName() string { return "throttle_accounts" }

type throttlePaceRow struct {
	Key string `gorm:"primaryKey"`
	Tat int64  // theoretical arrival time, Unix milliseconds
}

func (throttlePaceRow) TableName() string { return "throttle_paces" }

// ThrottleAccountFailed records that account (an opaque value, e.g. a hash of an email) failed under key
// and reports whether that failure is new: true when no failure of the account was counted under key
// within window before now, and the account is then counted again for window. One atomic upsert, so of
// racers on one account exactly one sees it new.
func (s *Store) ThrottleAccountFailed(ctx context.Context, key, account string, now time.Time, window time.Duration) (bool, error) {
	res := s.ctx(ctx).Exec(`INSERT INTO throttle_accounts (key, account, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (key, account) DO UPDATE SET expires_at = excluded.expires_at
		WHERE throttle_accounts.expires_at <= ?`, key, account, utc(now.Add(window)), utc(now))
	if res.Error != nil {
		return false, translate("throttle account failed", res.Error)
	}
	return res.RowsAffected == 1, nil
}

// ThrottlePace moves key's pace forward by interval in one atomic statement: the new pace is
// max(pace, now) + interval (the theoretical arrival time of the generic cell rate algorithm), so it
// drains in real time and racers never lose a step. It returns the new pace.
func (s *Store) ThrottlePace(ctx context.Context, key string, now time.Time, interval time.Duration) (time.Time, error) {
	n, iv := now.UnixMilli(), interval.Milliseconds()
	var tat int64
	err := s.ctx(ctx).Raw(`INSERT INTO throttle_paces (key, tat) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET tat = CASE WHEN throttle_paces.tat > ? THEN throttle_paces.tat ELSE ? END + ?
		RETURNING tat`, key, n+iv, n, n, iv).Scan(&tat).Error
	if err != nil {
		return time.Time{}, translate("throttle pace", err)
	}
	return time.UnixMilli(tat).UTC(), nil
}

// ThrottlePaceOf returns key's pace; a key never paced has the zero time.
func (s *Store) ThrottlePaceOf(ctx context.Context, key string) (time.Time, error) {
	var tat int64
	switch err := s.queryRow(ctx, throttlePaceOfSQL, key).Scan(&tat); {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, s.translateSQL("throttle pace", err)
	}
	return time.UnixMilli(tat).UTC(), nil
}

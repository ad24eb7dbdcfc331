package storage

import (
	"context"
	"time"
)

// Throttle returns the failure counter for key; a key never seen is a zero Throttle, not an error.
func (s *Store) Throttle(ctx context.Context, key string) (Throttle, error) {
	var r throttleRow
	err := s.ctx(ctx).Where("key = ?", key).Limit(1).Find(&r).Error
	if err != nil {
		return Throttle{}, translate("throttle", err)
	}
	return Throttle{Key: key, Failures: r.Failures, LockedUntil: utc(r.LockedUntil), UpdatedAt: utc(r.UpdatedAt)}, nil
}

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
	return translate("throttle reset", s.ctx(ctx).Where("key = ?", key).Delete(&throttleRow{}).Error)
}

package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Throttle returns the failure counter for key; a key never seen is a zero Throttle, not an error.
func (s *Store) Throttle(ctx context.Context, key string) (Throttle, error) {
	var r throttleRow
	err := s.queryRow(ctx, throttleSQL, key).Scan(&r.Failures, &r.Pending, &r.LockedUntil, &r.UpdatedAt)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Throttle{}, s.translateSQL("throttle", err)
	}
	return Throttle{Key: key, Failures: r.Failures, Pending: r.Pending, LockedUntil: utc(r.LockedUntil), UpdatedAt: utc(r.UpdatedAt)}, nil
}

// Read at every password and code step: database/sql, not gorm (hotpaths.go).
const (
	throttleSQL       = `SELECT failures, pending, locked_until, updated_at FROM throttles WHERE key = ?`
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

// Attempts in flight. A secret (password, code, key answer) is compared only after its attempt was
// reserved on the key's counter (ThrottleAttempt): one statement that refuses while the key is locked,
// or while the attempts already in flight could, if they all failed, bring it to its first lock, and
// that otherwise counts the attempt as pending. The attempt is then decided: failed
// (ThrottleAttemptFailed counts the failure and sets the lock in one statement), succeeded
// (ThrottleAttemptSucceeded), or released when nothing was compared (ThrottleAttemptReleased). So racers
// on one key, on any number of instances, are let through no more often than attempts one after the
// other would be, and attempts that succeed are never counted as failures.

// ThrottleStep is one step of a lock schedule: from Failures counted failures on (until the next step),
// the failure that reached the count locks its key for Lock from the moment it was counted.
type ThrottleStep struct {
	Failures int
	Lock     time.Duration
}

// unlocked is the lock of a counter that has none: a time before any clock's now, so that no instance,
// whatever its clock, takes a new counter for a locked one.
var unlocked = time.Unix(0, 0).UTC()

// lockAt is the lock that steps (ascending by Failures) give a failure counted at now that brought its
// key to failures: unlocked below the first step.
func lockAt(steps []ThrottleStep, failures int, now time.Time) time.Time {
	lock := time.Duration(0)
	for _, st := range steps {
		if failures >= st.Failures {
			lock = st.Lock
		}
	}
	if lock <= 0 {
		return unlocked
	}
	return now.Add(lock)
}

const (
	// The update runs only while the key is not locked and the attempts in flight leave room: none are,
	// the latest began before the stale time (their processes ended), or all of them failing would still
	// stay below the first count that locks. Stale ones are forgotten.
	throttleAttemptSQL = `INSERT INTO throttles (key, failures, pending, locked_until, updated_at) VALUES (?, 0, 1, ?, ?)
 ON CONFLICT (key) DO UPDATE SET pending = CASE WHEN throttles.updated_at < ? THEN 1 ELSE throttles.pending + 1 END,
 updated_at = excluded.updated_at
 WHERE throttles.locked_until <= excluded.updated_at
 AND (throttles.pending = 0 OR throttles.updated_at < ? OR throttles.failures + throttles.pending < ?)
 RETURNING failures, pending`
	throttleSucceededSQL     = `DELETE FROM throttles WHERE key = ? AND failures <= ? AND pending <= 1`
	throttleSucceededSomeSQL = `UPDATE throttles SET failures = CASE WHEN failures > ? THEN failures - ? ELSE 0 END,
 pending = CASE WHEN pending > 0 THEN pending - 1 ELSE 0 END WHERE key = ?`
	throttleReleasedSQL = `UPDATE throttles SET pending = pending - 1 WHERE key = ? AND pending > 0`
)

// throttleFailedSQL is the statement of ThrottleAttemptFailed for a schedule of n steps: it counts the
// failure, takes the attempt off those in flight, and extends the lock to the one of the new count's
// step (the CASE has the steps from the highest down, each as "count >= ? AND lock < ? THEN ?": a lower
// step's lock is never longer, so when the step reached does not extend the lock, none below does). A
// key without a counter (reset meanwhile) gets one. PostgreSQL types the CASE's parameters from the
// column.
func throttleFailedSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO throttles (key, failures, pending, locked_until, updated_at) VALUES (?, 1, 0, ?, ?)
 ON CONFLICT (key) DO UPDATE SET failures = throttles.failures + 1,
 pending = CASE WHEN throttles.pending > 0 THEN throttles.pending - 1 ELSE 0 END, locked_until = `)
	if n == 0 {
		b.WriteString(`throttles.locked_until`)
	} else {
		b.WriteString(`CASE`)
		for range n {
			b.WriteString(` WHEN throttles.failures + 1 >= ? AND throttles.locked_until < ? THEN ?`)
		}
		b.WriteString(` ELSE throttles.locked_until END`)
	}
	b.WriteString(`, updated_at = excluded.updated_at
 RETURNING failures, locked_until`)
	return b.String()
}

// ThrottleAttempt reserves an attempt on key before a secret is compared, in one statement. It is
// refused while key is locked at now, and while attempts are in flight whose failures would bring the
// count to limit, the first count that locks (a policy that never locks passes a limit no count
// reaches); in-flight attempts whose latest began before stale are taken as abandoned. Otherwise the
// attempt is counted as in flight.
//
// It returns the counter as the attempt left it (Pending includes it) and true; or, when refused, the
// counter as it stands and false. Decide every attempt: ThrottleAttemptFailed, ThrottleAttemptSucceeded
// or ThrottleAttemptReleased.
func (s *Store) ThrottleAttempt(ctx context.Context, key string, now time.Time, limit int, stale time.Time) (Throttle, bool, error) {
	now, stale = utc(now), utc(stale)
	t := Throttle{Key: key, LockedUntil: unlocked, UpdatedAt: now}
	err := s.queryRowOn(ctx, s.pool(), s.writes, throttleAttemptSQL, key, unlocked, now, stale, stale, limit).Scan(&t.Failures, &t.Pending)
	if errors.Is(err, sql.ErrNoRows) { // refused: nothing was counted
		t, err := s.Throttle(ctx, key)
		if err != nil {
			return Throttle{}, false, fmt.Errorf("throttle attempt: %w", err)
		}
		return t, false, nil
	}
	if err != nil {
		return Throttle{}, false, s.translateSQL("throttle attempt", err)
	}
	// Reserved only while not locked: whatever lock the row holds lies in the past (reported as none).
	return t, true, nil
}

// ThrottleAttemptFailed decides an attempt of key (ThrottleAttempt) as failed at now, in one statement:
// one failure more, one attempt less in flight, and the lock that steps (ascending by Failures) give the
// new count, unless the key is locked longer already. It returns the updated counter.
func (s *Store) ThrottleAttemptFailed(ctx context.Context, key string, now time.Time, steps []ThrottleStep) (Throttle, error) {
	now = utc(now)
	args := make([]any, 0, 3+3*len(steps))
	args = append(args, key, lockAt(steps, 1, now), now)
	for i := len(steps) - 1; i >= 0; i-- {
		until := now.Add(steps[i].Lock)
		args = append(args, steps[i].Failures, until, until)
	}
	t := Throttle{Key: key, UpdatedAt: now}
	if err := s.queryRowOn(ctx, s.pool(), s.writes, throttleFailedSQL(len(steps)), args...).Scan(&t.Failures, &t.LockedUntil); err != nil {
		return Throttle{}, s.translateSQL("throttle attempt failed", err)
	}
	t.LockedUntil = utc(t.LockedUntil)
	return t, nil
}

// ThrottleAttemptSucceeded decides an attempt of key as successful: one attempt less in flight, and the
// failures counted before it began (before, as ThrottleAttempt returned them) are cleared, while those
// counted since stay, with the lock they set: they may be someone else's guesses. (A lock older than the
// attempt has run out: it could not have begun otherwise.) Without failures since and other attempts in
// flight, the common case, one statement deletes the counter.
func (s *Store) ThrottleAttemptSucceeded(ctx context.Context, key string, before int) error {
	res, err := s.exec(ctx, "throttle attempt succeeded", throttleSucceededSQL, key, before)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return translate("throttle attempt succeeded", err)
	} else if n > 0 {
		return nil
	}
	_, err = s.exec(ctx, "throttle attempt succeeded", throttleSucceededSomeSQL, before, before, key)
	return err
}

// ThrottleAttemptReleased takes an attempt of key that compared nothing off those in flight; it counts
// neither as a failure nor as a success.
func (s *Store) ThrottleAttemptReleased(ctx context.Context, key string) error {
	_, err := s.exec(ctx, "throttle attempt released", throttleReleasedSQL, key)
	return err
}

// ThrottleReset clears the counter altogether (after a password reset, for one).
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

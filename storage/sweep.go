package storage

import (
	"context"
	"time"
)

// Sweep deletes what has expired: auth requests, sessions, tokens, stale throttles, unpublished keys and
// WebAuthn challenges.
// It returns how many rows went.
func (s *Store) Sweep(ctx context.Context, now time.Time) (int64, error) {
	now = utc(now)
	var total int64
	for _, q := range []struct {
		model any
		where string
		arg   time.Time
	}{
		{&authRequestRow{}, "expires_at < ?", now},
		{&sessionRow{}, "expires_at < ?", now},
		{&accessTokenRow{}, "expires_at < ?", now},
		{&refreshTokenRow{}, "expires_at < ?", now},
		// A counter with no failure for a day and no lock left is forgotten.
		{&throttleRow{}, "locked_until < ? AND updated_at < ?", now},
		{&signingKeyRow{}, "expires_at IS NOT NULL AND expires_at < ?", now},
		{&webauthnChallengeRow{}, "expires_at < ?", now}, // abandoned ceremonies of sessions that live on
	} {
		args := []any{q.arg}
		if _, ok := q.model.(*throttleRow); ok {
			args = append(args, now.Add(-24*time.Hour))
		}
		res := s.ctx(ctx).Where(q.where, args...).Delete(q.model)
		if res.Error != nil {
			return total, translate("sweep", res.Error)
		}
		total += res.RowsAffected
	}
	// Per-address windows: accounts counted longer ago than the window, and paces that have drained.
	for _, q := range []struct {
		model any
		where string
		arg   any
	}{
		{&throttleAccountRow{}, "expires_at < ?", now},
		{&throttlePaceRow{}, "tat < ?", now.UnixMilli()},
	} {
		res := s.ctx(ctx).Where(q.where, q.arg).Delete(q.model)
		if res.Error != nil {
			return total, translate("sweep", res.Error)
		}
		total += res.RowsAffected
	}
	n, err := s.sweepMail(ctx, now) // outbox.go
	return total + n, err
}

package storage

import (
	"context"
	"log/slog"
	"time"

	"gorm.io/gorm"
)

// OutboxMail is one message waiting in (or sent from) the outbox.
type OutboxMail struct {
	ID            string
	TenantID      string
	To            string
	Subject       string
	Text          string // plain-text part
	HTML          string // HTML part
	Kind          string // what it is about (e.g. "password_reset"), for limits and tests
	UserID        string // the user it concerns, "" for none
	CreatedAt     time.Time
	Attempts      int
	NextAttemptAt time.Time
	LeaseOwner    string
	LeaseUntil    *time.Time
	SentAt        *time.Time
	LastError     string
}

// LogValue keeps the bodies (which may carry a link) out of logs.
func (m OutboxMail) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", m.ID), slog.String("kind", m.Kind))
}

type outboxRow struct {
	ID            string `gorm:"primaryKey"`
	TenantID      string
	ToAddr        string
	Subject       string
	TextBody      string
	HTMLBody      string `gorm:"column:html_body"`
	Kind          string
	UserID        string
	CreatedAt     time.Time
	Attempts      int
	NextAttemptAt time.Time
	LeaseOwner    string
	LeaseUntil    *time.Time
	SentAt        *time.Time
	LastError     string
}

func (outboxRow) TableName() string { return "mail_outbox" }

func outboxFromRow(r outboxRow) OutboxMail {
	return OutboxMail{ID: r.ID, TenantID: r.TenantID, To: r.ToAddr, Subject: r.Subject, Text: r.TextBody, HTML: r.HTMLBody,
		Kind: r.Kind, UserID: r.UserID, CreatedAt: utc(r.CreatedAt), Attempts: r.Attempts, NextAttemptAt: utc(r.NextAttemptAt),
		LeaseOwner: r.LeaseOwner, LeaseUntil: utcPtr(r.LeaseUntil), SentAt: utcPtr(r.SentAt), LastError: r.LastError}
}

// EnqueueMail writes a message to the outbox, due at once. Call it on the Store of InTx so that the
// message commits (or rolls back) with the change that causes it.
func (s *Store) EnqueueMail(ctx context.Context, m OutboxMail) (OutboxMail, error) {
	if m.ID == "" {
		m.ID = NewID()
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now()
	}
	if m.NextAttemptAt.IsZero() {
		m.NextAttemptAt = m.CreatedAt
	}
	r := outboxRow{ID: m.ID, TenantID: m.TenantID, ToAddr: m.To, Subject: m.Subject, TextBody: m.Text, HTMLBody: m.HTML,
		Kind: m.Kind, UserID: m.UserID, CreatedAt: utc(m.CreatedAt), NextAttemptAt: utc(m.NextAttemptAt)}
	if err := s.ctx(ctx).Create(&r).Error; err != nil {
		return OutboxMail{}, translate("enqueue mail", err)
	}
	return outboxFromRow(r), nil
}

// CountMail counts the messages of kind for the user created since the time (sent or not), for limits
// such as "at most 5 reset mails per account per hour".
func (s *Store) CountMail(ctx context.Context, userID, kind string, since time.Time) (int64, error) {
	var n int64
	err := s.ctx(ctx).Model(&outboxRow{}).Where("user_id = ? AND kind = ? AND created_at >= ?", userID, kind, utc(since)).Count(&n).Error
	return n, translate("count mail", err)
}

// ClaimMail leases up to limit due messages to owner until now+lease. Each row is claimed by one
// single-statement compare-and-set (unsent, and no lease or an expired one), so two workers on one
// outbox, on any instance, never hold the same message at once.
func (s *Store) ClaimMail(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]OutboxMail, error) {
	now = utc(now)
	var ids []string
	if err := s.ctx(ctx).Model(&outboxRow{}).Where("sent_at IS NULL AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)", now, now).
		Order("next_attempt_at").Limit(limit).Pluck("id", &ids).Error; err != nil {
		return nil, translate("claim mail", err)
	}
	var out []OutboxMail
	for _, id := range ids {
		res := s.ctx(ctx).Model(&outboxRow{}).
			Where("id = ? AND sent_at IS NULL AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)", id, now, now).
			Updates(map[string]any{"lease_owner": owner, "lease_until": now.Add(lease)})
		if res.Error != nil {
			return out, translate("claim mail", res.Error)
		}
		if res.RowsAffected != 1 {
			continue // another worker won it
		}
		var r outboxRow
		if err := s.ctx(ctx).Where("id = ? AND lease_owner = ?", id, owner).Take(&r).Error; err != nil {
			return out, translate("claim mail", err)
		}
		out = append(out, outboxFromRow(r))
	}
	return out, nil
}

// MarkMailSent records that the owner's leased message was sent and empties its bodies (they may carry
// a link). ErrConflict means the lease was lost.
func (s *Store) MarkMailSent(ctx context.Context, id, owner string, now time.Time) error {
	res := s.ctx(ctx).Model(&outboxRow{}).Where("id = ? AND lease_owner = ? AND sent_at IS NULL", id, owner).
		Updates(map[string]any{"sent_at": utc(now), "lease_until": nil, "text_body": "", "html_body": "", "attempts": gorm.Expr("attempts + 1"), "last_error": ""})
	if res.Error != nil {
		return translate("mark mail sent", res.Error)
	}
	if res.RowsAffected != 1 {
		return translate("mark mail sent", ErrConflict)
	}
	return nil
}

// MarkMailFailed releases the owner's lease and schedules the next attempt at next.
func (s *Store) MarkMailFailed(ctx context.Context, id, owner string, next time.Time, reason string) error {
	if len(reason) > 500 {
		reason = reason[:500]
	}
	res := s.ctx(ctx).Model(&outboxRow{}).Where("id = ? AND lease_owner = ? AND sent_at IS NULL", id, owner).
		Updates(map[string]any{"lease_until": nil, "next_attempt_at": utc(next), "attempts": gorm.Expr("attempts + 1"), "last_error": reason})
	if res.Error != nil {
		return translate("mark mail failed", res.Error)
	}
	if res.RowsAffected != 1 {
		return translate("mark mail failed", ErrConflict)
	}
	return nil
}

// MailByID returns one outbox message.
func (s *Store) MailByID(ctx context.Context, id string) (OutboxMail, error) {
	var r outboxRow
	if err := s.ctx(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return OutboxMail{}, translate("mail by id", err)
	}
	return outboxFromRow(r), nil
}

// ListMail returns the outbox, oldest first (for tests and operators).
func (s *Store) ListMail(ctx context.Context) ([]OutboxMail, error) {
	var rows []outboxRow
	if err := s.ctx(ctx).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, translate("list mail", err)
	}
	out := make([]OutboxMail, len(rows))
	for i, r := range rows {
		out[i] = outboxFromRow(r)
	}
	return out, nil
}

// sweepMail deletes outbox rows sent more than a week ago (their bodies are already empty) and emailed
// links that expired more than a week ago (kept that long to tell "expired" from "unknown" in logs).
func (s *Store) sweepMail(ctx context.Context, now time.Time) (int64, error) {
	old := utc(now).Add(-7 * 24 * time.Hour)
	res := s.ctx(ctx).Where("sent_at IS NOT NULL AND sent_at < ?", old).Delete(&outboxRow{})
	if res.Error != nil {
		return 0, translate("sweep mail", res.Error)
	}
	n := res.RowsAffected
	res = s.ctx(ctx).Where("expires_at < ?", old).Delete(&emailLinkRow{})
	if res.Error != nil {
		return n, translate("sweep links", res.Error)
	}
	return n + res.RowsAffected, nil
}

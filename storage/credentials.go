package storage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// WebAuthnCredential is a passkey or security key of one user (WebAuthn public key credential).
type WebAuthnCredential struct {
	ID              string // ours
	CredentialID    []byte // the authenticator's credential id, unique on the server
	UserID          string
	TenantID        string
	PublicKey       []byte // COSE key
	SignCount       uint32
	Transports      []string
	AAGUID          []byte
	AttestationType string
	UserVerified    bool // the authenticator verified the user at registration
	BackupEligible  bool // a synced (multi-device) passkey
	BackupState     bool
	Name            string
	CreatedAt       time.Time
	LastUsedAt      time.Time // zero until first used to sign in
}

// WebAuthnChallenge is the state of one WebAuthn ceremony in flight, bound to the sign-in that began it
// (AuthRequestID) or, for a key added from the account page, to the browser's SSO session (SessionID):
// exactly one of the two is set.
type WebAuthnChallenge struct {
	ID            string
	AuthRequestID string
	SessionID     string
	Purpose       string // register, assert (second factor), passkey (passwordless) or account-register
	UserID        string // "" for a passkey ceremony, which does not know the user yet
	TenantID      string
	SessionData   string // the library's session data, JSON
	ExpiresAt     time.Time
}

type webauthnCredentialRow struct {
	ID              string `gorm:"primaryKey"`
	CredentialID    []byte
	UserID          string
	TenantID        string
	PublicKey       []byte
	SignCount       int64
	Transports      string
	AAGUID          []byte `gorm:"column:aaguid"`
	AttestationType string
	UserVerified    bool
	BackupEligible  bool
	BackupState     bool
	Name            string
	CreatedAt       time.Time
	LastUsedAt      *time.Time
}

func (webauthnCredentialRow) TableName() string { return "webauthn_credentials" }

type webauthnChallengeRow struct {
	ID            string `gorm:"primaryKey"`
	AuthRequestID *string
	SessionID     *string
	Purpose       string
	UserID        string
	TenantID      string
	SessionData   string
	ExpiresAt     time.Time
}

func (webauthnChallengeRow) TableName() string { return "webauthn_challenges" }

func credentialFromRow(r webauthnCredentialRow) WebAuthnCredential {
	c := WebAuthnCredential{ID: r.ID, CredentialID: r.CredentialID, UserID: r.UserID, TenantID: r.TenantID, PublicKey: r.PublicKey,
		SignCount: uint32(r.SignCount), AAGUID: r.AAGUID, AttestationType: r.AttestationType, UserVerified: r.UserVerified,
		BackupEligible: r.BackupEligible, BackupState: r.BackupState, Name: r.Name, CreatedAt: utc(r.CreatedAt)}
	if r.Transports != "" {
		c.Transports = strings.Split(r.Transports, ",")
	}
	if r.LastUsedAt != nil {
		c.LastUsedAt = utc(*r.LastUsedAt)
	}
	return c
}

// CreateCredential stores a new credential and spends the user's enrolment code (an admin's reset asked
// for it before this enrolment), in one transaction; ErrAlreadyExists if its credential id is
// registered already.
func (s *Store) CreateCredential(ctx context.Context, c WebAuthnCredential) (WebAuthnCredential, error) {
	if c.ID == "" {
		c.ID = NewID()
	}
	r := webauthnCredentialRow{ID: c.ID, CredentialID: c.CredentialID, UserID: c.UserID, TenantID: c.TenantID, PublicKey: c.PublicKey,
		SignCount: int64(c.SignCount), Transports: strings.Join(c.Transports, ","), AAGUID: c.AAGUID, AttestationType: c.AttestationType,
		UserVerified: c.UserVerified, BackupEligible: c.BackupEligible, BackupState: c.BackupState, Name: c.Name, CreatedAt: utc(c.CreatedAt)}
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&r).Error; err != nil {
			return translate("create credential", err)
		}
		return translate("create credential", tx.Where("user_id = ?", c.UserID).Delete(&enrolmentCodeRow{}).Error)
	})
	if err != nil {
		return WebAuthnCredential{}, err
	}
	return credentialFromRow(r), nil
}

// CredentialsByUser returns the user's credentials, oldest first.
func (s *Store) CredentialsByUser(ctx context.Context, userID string) ([]WebAuthnCredential, error) {
	var rows []webauthnCredentialRow
	if err := s.ctx(ctx).Where("user_id = ?", userID).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, translate("credentials by user", err)
	}
	out := make([]WebAuthnCredential, 0, len(rows))
	for _, r := range rows {
		out = append(out, credentialFromRow(r))
	}
	return out, nil
}

// CredentialsCountByUsers returns how many credentials each of the users has (absent: none).
func (s *Store) CredentialsCountByUsers(ctx context.Context, userIDs []string) (map[string]int, error) {
	out := map[string]int{}
	if len(userIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		UserID string
		N      int
	}
	if err := s.ctx(ctx).Model(&webauthnCredentialRow{}).Select("user_id, count(*) AS n").Where("user_id IN ?", userIDs).
		Group("user_id").Scan(&rows).Error; err != nil {
		return nil, translate("credentials count", err)
	}
	for _, r := range rows {
		out[r.UserID] = r.N
	}
	return out, nil
}

// CredentialByCredentialID returns the credential with the authenticator's credential id.
func (s *Store) CredentialByCredentialID(ctx context.Context, credentialID []byte) (WebAuthnCredential, error) {
	var r webauthnCredentialRow
	if err := s.ctx(ctx).Where("credential_id = ?", credentialID).Take(&r).Error; err != nil {
		return WebAuthnCredential{}, translate("credential by credential id", err)
	}
	return credentialFromRow(r), nil
}

// UseCredential records a sign-in with credential id: one compare-and-set from the sign count the caller
// verified against (oldCount) to newCount, so that two assertions racing on one counter cannot both
// pass. ErrConflict when the count moved in between.
func (s *Store) UseCredential(ctx context.Context, id string, oldCount, newCount uint32, backupState bool, now time.Time) error {
	res := s.ctx(ctx).Model(&webauthnCredentialRow{}).Where("id = ? AND sign_count = ?", id, int64(oldCount)).
		Updates(map[string]any{"sign_count": int64(newCount), "backup_state": backupState, "last_used_at": utc(now)})
	if res.Error != nil {
		return translate("use credential", res.Error)
	}
	if res.RowsAffected != 1 {
		return translate("use credential", ErrConflict)
	}
	return nil
}

// RenameCredential sets the name of the user's credential id; ErrNotFound if the user has no such credential.
func (s *Store) RenameCredential(ctx context.Context, userID, id, name string) error {
	res := s.ctx(ctx).Model(&webauthnCredentialRow{}).Where("id = ? AND user_id = ?", id, userID).Update("name", name)
	if res.Error != nil {
		return translate("rename credential", res.Error)
	}
	if res.RowsAffected != 1 {
		return translate("rename credential", ErrNotFound)
	}
	return nil
}

// DeleteCredential removes the user's credential id with its audit event; ErrNotFound if the user has
// no such credential.
// With endSessionsWith, the user's SSO sessions and sign-ins in flight that carry that factor end in the
// same transaction, and with revokeAMR the user's tokens whose amr holds it are revoked (at ev's time):
// a sign-in made with a removed key must not keep the level, or the access, the key gave it.
func (s *Store) DeleteCredential(ctx context.Context, userID, id, endSessionsWith, revokeAMR string, ev AuditEvent) error {
	return s.inTx(ctx, func(tx *gorm.DB) error {
		res := tx.Where("id = ? AND user_id = ?", id, userID).Delete(&webauthnCredentialRow{})
		if res.Error != nil {
			return translate("delete credential", res.Error)
		}
		if res.RowsAffected != 1 {
			return translate("delete credential", ErrNotFound)
		}
		if endSessionsWith != "" { // after the credential's delete: see endSessionsAndSignIns
			where, args := sessionsCarrying(userID, []string{endSessionsWith}, "")
			if err := endSessionsAndSignIns(tx, userID, []string{endSessionsWith}, where, args...); err != nil {
				return translate("delete credential", err)
			}
		}
		if revokeAMR != "" {
			now := ev.CreatedAt
			if now.IsZero() {
				now = time.Now()
			}
			if err := revokeTokensWithAMR(tx, userID, []string{revokeAMR}, now); err != nil {
				return err
			}
		}
		return addAudit(tx, ev)
	})
}

// PutChallenge stores the challenge of a ceremony, replacing an earlier one of the same sign-in (or
// session) and purpose, which can then no longer be finished.
func (s *Store) PutChallenge(ctx context.Context, ch WebAuthnChallenge) error {
	col, key, err := challengeBinding(ch.AuthRequestID, ch.SessionID)
	if err != nil {
		return err
	}
	if ch.ID == "" {
		ch.ID = NewID()
	}
	return s.inTx(ctx, func(tx *gorm.DB) error {
		if err := tx.Where(col+" = ? AND purpose = ?", key, ch.Purpose).Delete(&webauthnChallengeRow{}).Error; err != nil {
			return translate("put challenge", err)
		}
		r := webauthnChallengeRow{ID: ch.ID, AuthRequestID: nonEmpty(ch.AuthRequestID), SessionID: nonEmpty(ch.SessionID), Purpose: ch.Purpose,
			UserID: ch.UserID, TenantID: ch.TenantID, SessionData: ch.SessionData, ExpiresAt: utc(ch.ExpiresAt)}
		return translate("put challenge", tx.Create(&r).Error)
	})
}

// challengeBinding is the column and value a challenge is bound by: its sign-in or its session.
func challengeBinding(authRequestID, sessionID string) (string, string, error) {
	switch {
	case authRequestID != "" && sessionID == "":
		return "auth_request_id", authRequestID, nil
	case sessionID != "" && authRequestID == "":
		return "session_id", sessionID, nil
	default:
		return "", "", fmt.Errorf("put challenge: bound to %q and %q, want exactly one of a sign-in and a session", authRequestID, sessionID)
	}
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// TakeChallenge returns and deletes the challenge of the sign-in authRequestID for purpose: a challenge
// can be taken once, also by two instances at the same moment (exactly one delete counts).
// ErrNotFound if there is none (never begun, already taken, or replaced).
func (s *Store) TakeChallenge(ctx context.Context, authRequestID, purpose string) (WebAuthnChallenge, error) {
	return s.takeChallenge(ctx, "auth_request_id", authRequestID, purpose)
}

// TakeSessionChallenge is TakeChallenge for a ceremony bound to the SSO session sessionID.
func (s *Store) TakeSessionChallenge(ctx context.Context, sessionID, purpose string) (WebAuthnChallenge, error) {
	return s.takeChallenge(ctx, "session_id", sessionID, purpose)
}

func (s *Store) takeChallenge(ctx context.Context, col, key, purpose string) (WebAuthnChallenge, error) {
	var out WebAuthnChallenge
	if key == "" {
		return out, translate("take challenge", ErrNotFound)
	}
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		var r webauthnChallengeRow
		if err := tx.Where(col+" = ? AND purpose = ?", key, purpose).Take(&r).Error; err != nil {
			return translate("take challenge", err)
		}
		res := tx.Where("id = ?", r.ID).Delete(&webauthnChallengeRow{})
		if res.Error != nil {
			return translate("take challenge", res.Error)
		}
		if res.RowsAffected != 1 {
			return translate("take challenge", ErrNotFound)
		}
		out = WebAuthnChallenge{ID: r.ID, Purpose: r.Purpose, UserID: r.UserID,
			TenantID: r.TenantID, SessionData: r.SessionData, ExpiresAt: utc(r.ExpiresAt)}
		if r.AuthRequestID != nil {
			out.AuthRequestID = *r.AuthRequestID
		}
		if r.SessionID != nil {
			out.SessionID = *r.SessionID
		}
		return nil
	})
	return out, err
}

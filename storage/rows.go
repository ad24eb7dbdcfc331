package storage

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// gorm rows: unexported, converted at the boundary (STYLE rule 12).

type tenantRow struct {
	ID           string `gorm:"primaryKey"`
	Slug         string
	Name         string
	MFAEnabled   bool       `gorm:"column:mfa_enabled"`
	MFAUpdatedAt *time.Time `gorm:"column:mfa_updated_at"`
	MFAUpdatedBy string     `gorm:"column:mfa_updated_by"`
	MFAMethods   string     `gorm:"column:mfa_methods"`
	CreatedAt    time.Time
}

func (tenantRow) TableName() string { return "tenants" }

type userRow struct {
	ID            string `gorm:"primaryKey"`
	TenantID      string
	Email         string
	Name          string
	PasswordHash  string
	Role          string
	Disabled      bool
	EmailVerified bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (userRow) TableName() string { return "users" }

type clientRow struct {
	ID             string `gorm:"primaryKey"`
	TenantID       string
	Name           string
	SecretHash     string
	Public         bool
	RedirectURIs   string `gorm:"column:redirect_uris"`
	PostLogoutURIs string `gorm:"column:post_logout_uris"`
	Grants         string
	Scopes         string
	Admin          bool
	IDTokenAlg     string `gorm:"column:id_token_signed_response_alg"`
	CreatedAt      time.Time
}

func (clientRow) TableName() string { return "clients" }

type authRequestRow struct {
	ID                  string `gorm:"primaryKey"`
	TenantID            string
	ClientID            string
	RedirectURI         string `gorm:"column:redirect_uri"`
	State               string
	Nonce               string
	Scopes              string
	ResponseType        string
	ResponseMode        string
	CodeChallenge       string
	CodeChallengeMethod string
	Prompt              string
	MaxAge              *int64
	LoginHint           string
	ACRValues           string `gorm:"column:acr_values"`
	UILocales           string `gorm:"column:ui_locales"`
	RequireMFA          bool   `gorm:"column:require_mfa"`
	HintSubject         string
	CreatedAt           time.Time
	ExpiresAt           time.Time
	BrowserHash         string
	UserID              string
	Factors             string
	AuthTime            *time.Time
	CodeHash            *string
	CodeExpiresAt       *time.Time
	CodeUsedAt          *time.Time
	ConsumedAt          *time.Time
}

func (authRequestRow) TableName() string { return "auth_requests" }

type sessionRow struct {
	ID        string `gorm:"primaryKey"`
	TenantID  string
	UserID    string
	Factors   string
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
}

func (sessionRow) TableName() string { return "sessions" }

type accessTokenRow struct {
	ID        string `gorm:"primaryKey"`
	GrantID   string
	TenantID  string
	ClientID  string
	Subject   string
	Scopes    string
	Audience  string
	AMR       string `gorm:"column:amr"`
	ACR       string `gorm:"column:acr"`
	AuthTime  *time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt *time.Time
}

func (accessTokenRow) TableName() string { return "access_tokens" }

type refreshTokenRow struct {
	ID        string `gorm:"primaryKey"`
	TokenHash string
	GrantID   string
	TenantID  string
	ClientID  string
	Subject   string
	Scopes    string
	Audience  string
	AMR       string `gorm:"column:amr"`
	ACR       string `gorm:"column:acr"`
	AuthTime  *time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
	RevokedAt *time.Time
}

func (refreshTokenRow) TableName() string { return "refresh_tokens" }

type signingKeyRow struct {
	ID            string `gorm:"primaryKey"`
	Algorithm     string
	PrivateSealed []byte
	PublicPEM     []byte `gorm:"column:public_pem"`
	CreatedAt     time.Time
	RetiredAt     *time.Time
	ExpiresAt     *time.Time
}

func (signingKeyRow) TableName() string { return "signing_keys" }

type throttleRow struct {
	Key         string `gorm:"primaryKey"`
	Failures    int
	Pending     int
	LockedUntil time.Time
	UpdatedAt   time.Time
}

func (throttleRow) TableName() string { return "throttles" }

type authenticatorRow struct {
	ID           string `gorm:"primaryKey"`
	UserID       string
	TenantID     string
	SecretSealed []byte
	State        string
	LastStep     int64
	CreatedAt    time.Time
	ConfirmedAt  *time.Time
	LastUsedAt   *time.Time

	EnrolledClientID string
	EnrolledAddress  string
}

func (authenticatorRow) TableName() string { return "authenticators" }

type pendingEnrolmentRow struct {
	ID            string `gorm:"primaryKey"`
	AuthRequestID *string
	SessionID     *string
	UserID        string
	TenantID      string
	SecretSealed  []byte
	CreatedAt     time.Time
}

func (pendingEnrolmentRow) TableName() string { return "pending_enrolments" }

type enrolmentCodeRow struct {
	UserID    string `gorm:"primaryKey"`
	TenantID  string
	CodeHash  string
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
}

func (enrolmentCodeRow) TableName() string { return "enrolment_codes" }

type recoveryCodeRow struct {
	ID        string `gorm:"primaryKey"`
	UserID    string
	Hash      string
	CreatedAt time.Time
	UsedAt    *time.Time
}

func (recoveryCodeRow) TableName() string { return "recovery_codes" }

type auditEventRow struct {
	ID        string `gorm:"primaryKey"`
	TenantID  string
	ActorID   string
	Action    string
	TargetID  string
	Address   string
	Detail    string
	CreatedAt time.Time
}

func (auditEventRow) TableName() string { return "audit_events" }

// NewID returns a random 128-bit identifier in hex.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// join stores a list in one column, its items separated by spaces; split reads it back. An item that
// holds whitespace would come back as several items (a redirect URI "https://app/cb http://evil/" as
// two, the second never validated), so join refuses it with ErrInvalid, whatever path the list came by.
func join(l []string) (string, error) {
	for _, v := range l {
		if strings.IndexFunc(v, unicode.IsSpace) >= 0 {
			return "", fmt.Errorf("%w: list item %q holds whitespace", ErrInvalid, v)
		}
	}
	return strings.Join(l, " "), nil
}

// lists joins the lists of one record (join) and keeps the first refusal, named by its field.
type lists struct{ err error }

func (ls *lists) join(field string, l []string) string {
	s, err := join(l)
	if err != nil && ls.err == nil {
		ls.err = fmt.Errorf("%s: %w", field, err)
	}
	return s
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Fields(s)
}

func utc(t time.Time) time.Time { return t.UTC() }

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func tenantFromRow(r tenantRow) Tenant {
	return Tenant{ID: r.ID, Slug: r.Slug, Name: r.Name, MFAEnabled: r.MFAEnabled, MFAUpdatedAt: deref(r.MFAUpdatedAt),
		MFAUpdatedBy: r.MFAUpdatedBy, MFAMethods: methodsFromRow(r.MFAMethods), CreatedAt: utc(r.CreatedAt)}
}

func userFromRow(r userRow) User {
	return User{ID: r.ID, TenantID: r.TenantID, Email: r.Email, Name: r.Name, PasswordHash: r.PasswordHash, Role: r.Role,
		Disabled: r.Disabled, EmailVerified: r.EmailVerified, CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt)}
}

func clientFromRow(r clientRow) Client {
	return Client{ID: r.ID, TenantID: r.TenantID, Name: r.Name, SecretHash: r.SecretHash, Public: r.Public,
		RedirectURIs: split(r.RedirectURIs), PostLogoutURIs: split(r.PostLogoutURIs), Grants: split(r.Grants),
		Scopes: split(r.Scopes), Admin: r.Admin, IDTokenAlg: r.IDTokenAlg, CreatedAt: utc(r.CreatedAt)}
}

func authRequestToRow(a AuthRequest) (authRequestRow, error) {
	var ls lists
	r := authRequestRow{ID: a.ID, TenantID: a.TenantID, ClientID: a.ClientID, RedirectURI: a.RedirectURI, State: a.State,
		Nonce: a.Nonce, Scopes: ls.join("scopes", a.Scopes), ResponseType: a.ResponseType, ResponseMode: a.ResponseMode,
		CodeChallenge: a.CodeChallenge, CodeChallengeMethod: a.CodeChallengeMethod, Prompt: ls.join("prompt", a.Prompt), MaxAge: a.MaxAge,
		LoginHint: a.LoginHint, ACRValues: ls.join("acr_values", a.ACRValues), UILocales: ls.join("ui_locales", a.UILocales),
		RequireMFA: a.RequireMFA, HintSubject: a.HintSubject, CreatedAt: utc(a.CreatedAt), ExpiresAt: utc(a.ExpiresAt),
		BrowserHash: a.BrowserHash, UserID: a.UserID, Factors: ls.join("factors", a.Factors), AuthTime: optTime(a.AuthTime),
		CodeExpiresAt: optTime(a.CodeExpiresAt), CodeUsedAt: utcPtr(a.CodeUsedAt), ConsumedAt: utcPtr(a.ConsumedAt)}
	if a.CodeHash != "" {
		h := a.CodeHash
		r.CodeHash = &h
	}
	return r, ls.err
}

func authRequestFromRow(r authRequestRow) AuthRequest {
	a := AuthRequest{ID: r.ID, TenantID: r.TenantID, ClientID: r.ClientID, RedirectURI: r.RedirectURI, State: r.State,
		Nonce: r.Nonce, Scopes: split(r.Scopes), ResponseType: r.ResponseType, ResponseMode: r.ResponseMode,
		CodeChallenge: r.CodeChallenge, CodeChallengeMethod: r.CodeChallengeMethod, Prompt: split(r.Prompt), MaxAge: r.MaxAge,
		LoginHint: r.LoginHint, ACRValues: split(r.ACRValues), UILocales: split(r.UILocales), RequireMFA: r.RequireMFA,
		HintSubject: r.HintSubject, CreatedAt: utc(r.CreatedAt), ExpiresAt: utc(r.ExpiresAt), BrowserHash: r.BrowserHash, UserID: r.UserID,
		Factors: split(r.Factors), AuthTime: deref(r.AuthTime), CodeExpiresAt: deref(r.CodeExpiresAt),
		CodeUsedAt: utcPtr(r.CodeUsedAt), ConsumedAt: utcPtr(r.ConsumedAt)}
	if r.CodeHash != nil {
		a.CodeHash = *r.CodeHash
	}
	return a
}

func sessionFromRow(r sessionRow) Session {
	return Session{ID: r.ID, TenantID: r.TenantID, UserID: r.UserID, Factors: split(r.Factors), AuthTime: utc(r.AuthTime),
		CreatedAt: utc(r.CreatedAt), ExpiresAt: utc(r.ExpiresAt)}
}

func accessTokenFromRow(r accessTokenRow) AccessToken {
	return AccessToken{ID: r.ID, GrantID: r.GrantID, TenantID: r.TenantID, ClientID: r.ClientID, Subject: r.Subject,
		Scopes: split(r.Scopes), Audience: split(r.Audience), AMR: split(r.AMR), ACR: r.ACR, AuthTime: deref(r.AuthTime),
		CreatedAt: utc(r.CreatedAt), ExpiresAt: utc(r.ExpiresAt), RevokedAt: utcPtr(r.RevokedAt)}
}

func refreshTokenFromRow(r refreshTokenRow) RefreshToken {
	return RefreshToken{ID: r.ID, TokenHash: r.TokenHash, GrantID: r.GrantID, TenantID: r.TenantID, ClientID: r.ClientID,
		Subject: r.Subject, Scopes: split(r.Scopes), Audience: split(r.Audience), AMR: split(r.AMR), ACR: r.ACR,
		AuthTime: deref(r.AuthTime), CreatedAt: utc(r.CreatedAt), ExpiresAt: utc(r.ExpiresAt), UsedAt: utcPtr(r.UsedAt),
		RevokedAt: utcPtr(r.RevokedAt)}
}

func signingKeyFromRow(r signingKeyRow) SigningKey {
	return SigningKey{ID: r.ID, Algorithm: r.Algorithm, PrivateSealed: r.PrivateSealed, PublicPEM: r.PublicPEM,
		CreatedAt: utc(r.CreatedAt), RetiredAt: utcPtr(r.RetiredAt), ExpiresAt: utcPtr(r.ExpiresAt)}
}

func authenticatorFromRow(r authenticatorRow) Authenticator {
	return Authenticator{ID: r.ID, UserID: r.UserID, TenantID: r.TenantID, SecretSealed: r.SecretSealed, State: r.State,
		LastStep: r.LastStep, CreatedAt: utc(r.CreatedAt), ConfirmedAt: utcPtr(r.ConfirmedAt), LastUsedAt: utcPtr(r.LastUsedAt),
		EnrolledClientID: r.EnrolledClientID, EnrolledAddress: r.EnrolledAddress}
}

func auditFromRow(r auditEventRow) AuditEvent {
	e := AuditEvent{ID: r.ID, TenantID: r.TenantID, ActorID: r.ActorID, Action: r.Action, TargetID: r.TargetID,
		Address: r.Address, CreatedAt: utc(r.CreatedAt)}
	_ = json.Unmarshal([]byte(r.Detail), &e.Detail) // written by us as JSON; a bad row shows no detail
	return e
}

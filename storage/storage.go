// Package storage keeps Portcullis' state in a SQL database (embedded SQLite or PostgreSQL) through gorm.
// It exports plain records and repository methods; gorm rows stay unexported. It knows nothing of HTTP.
//
// It owns the schema and its migrations, the dialect differences, transactions with retry, and the
// compare-and-set updates the security rules rest on. Factors and roles are opaque strings here: their
// meaning belongs to mfa and admin. It is the bottom layer: it must not import any package of ours, and
// no package outside storage (and its test helper storagetest) imports gorm or a database driver.
package storage

import (
	"errors"
	"log/slog"
	"slices"
	"time"
)

// Sentinel errors. Callers test them with errors.Is.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict means a compare-and-set lost: the row was changed (or consumed) by someone else.
	ErrConflict = errors.New("conflict")
	// ErrInvalid means a value cannot be stored as given: a list item that holds whitespace, which the
	// list's column (items joined by spaces) would give back as several items.
	ErrInvalid = errors.New("invalid value")
)

// Roles of a user in its tenant.
const (
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// Authenticator states.
const (
	AuthenticatorPending = "pending"
	AuthenticatorActive  = "active"
)

// Tenant is an organisation (the "account"): it owns users, clients and the MFA policy.
type Tenant struct {
	ID           string
	Slug         string
	Name         string
	MFAEnabled   bool
	MFAUpdatedAt time.Time // zero until the policy was first changed
	MFAUpdatedBy string
	MFAMethods   []string // the second factors the policy allows (totp, webauthn); DefaultMFAMethods when unset
	CreatedAt    time.Time
}

// User signs in with email and password and belongs to exactly one tenant.
type User struct {
	ID            string
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

// LogValue keeps the password hash out of logs.
func (u User) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", u.ID), slog.String("tenant", u.TenantID), slog.String("role", u.Role))
}

// Client is an OIDC relying party registered in one tenant.
type Client struct {
	ID             string
	TenantID       string
	Name           string
	SecretHash     string // empty for public clients
	Public         bool
	RedirectURIs   []string
	PostLogoutURIs []string
	Grants         []string
	Scopes         []string // extra scopes it may ask for beyond the standard OIDC ones
	Admin          bool     // a service client that may call the admin API of its tenant
	IDTokenAlg     string   // id_token_signed_response_alg, for its access tokens too; "" for the default
	CreatedAt      time.Time
}

// HasGrant reports whether the client may use the grant type.
func (c Client) HasGrant(g string) bool { return slices.Contains(c.Grants, g) }

// LogValue keeps the secret hash out of logs.
func (c Client) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", c.ID), slog.String("tenant", c.TenantID))
}

// AuthRequest is one /authorize call in flight, with the factors proven so far.
type AuthRequest struct {
	ID                  string
	TenantID            string
	ClientID            string
	RedirectURI         string
	State               string
	Nonce               string
	Scopes              []string
	ResponseType        string
	ResponseMode        string
	CodeChallenge       string
	CodeChallengeMethod string
	Prompt              []string
	MaxAge              *int64
	LoginHint           string
	ACRValues           []string // acr_values, and the level an essential acr claim demands
	UILocales           []string
	RequireMFA          bool   // the app demanded the MFA level (acr_values or an essential acr claim)
	HintSubject         string // the user named by a verified id_token_hint; "" without one
	CreatedAt           time.Time
	ExpiresAt           time.Time

	BrowserHash string // hash of the login cookie that this request is bound to; empty until bound

	UserID   string
	Factors  []string // proven factors, opaque here (package mfa names them)
	AuthTime time.Time

	CodeHash      string
	CodeExpiresAt time.Time
	CodeUsedAt    *time.Time
	ConsumedAt    *time.Time // its code was redeemed (or it was spent otherwise): it can never yield another code
}

// LogValue keeps state, nonce, challenge and code hash out of logs.
func (a AuthRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", a.ID), slog.String("client", a.ClientID), slog.String("user", a.UserID), slog.Any("factors", a.Factors))
}

// Session is a browser's single sign-on session after a completed login.
type Session struct {
	ID        string // hash of the cookie value
	TenantID  string
	UserID    string
	Factors   []string
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AccessToken is the server-side record of an issued (JWT) access token, for revocation and introspection.
type AccessToken struct {
	ID        string
	GrantID   string // the auth request or refresh family that produced it
	TenantID  string
	ClientID  string
	Subject   string
	Scopes    []string
	Audience  []string
	AMR       []string
	ACR       string
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt *time.Time
}

// RefreshToken is stored by hash. Rotation marks the old one used; using a used one revokes its family.
type RefreshToken struct {
	ID        string
	TokenHash string
	GrantID   string
	TenantID  string
	ClientID  string
	Subject   string
	Scopes    []string
	Audience  []string
	AMR       []string
	ACR       string
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
	RevokedAt *time.Time
}

// SigningKey is a token signing key; the private part is sealed by the caller before it gets here.
type SigningKey struct {
	ID            string
	Algorithm     string
	PrivateSealed []byte
	PublicPEM     []byte
	CreatedAt     time.Time
	RetiredAt     *time.Time // set when a newer key took over
	ExpiresAt     *time.Time // after this the public key is no longer published
}

// Throttle counts consecutive failures for a key ("pwd:user:ID", "otp:user:ID"). Client addresses are
// limited by distinct failing accounts instead (ThrottleAccountFailed, ThrottlePace).
type Throttle struct {
	Key         string
	Failures    int
	Pending     int // attempts in flight: reserved before a secret is compared, not yet decided (ThrottleAttempt)
	LockedUntil time.Time
	UpdatedAt   time.Time
}

// Authenticator is a user's confirmed TOTP secret, sealed. A user has at most one.
type Authenticator struct {
	ID           string
	UserID       string
	TenantID     string
	SecretSealed []byte
	State        string // always AuthenticatorActive; secrets not yet confirmed are PendingEnrolments
	LastStep     int64  // the last accepted TOTP time step; codes at or below it are refused
	CreatedAt    time.Time
	ConfirmedAt  *time.Time
	LastUsedAt   *time.Time

	// Where it was enrolled: the app signed in to and the client address, shown to the user and admins.
	EnrolledClientID string
	EnrolledAddress  string
}

// PendingEnrolment is a TOTP secret shown to one sign-in (auth request, bound to one browser), or to the
// account page of one SSO session, and not yet confirmed by a code. Only that sign-in or session sees or
// confirms it; it dies with its auth request or session.
type PendingEnrolment struct {
	ID            string
	AuthRequestID string // the sign-in showing the secret, or
	SessionID     string // the SSO session whose account page shows it (exactly one of the two is set)
	UserID        string
	TenantID      string
	SecretSealed  []byte
	CreatedAt     time.Time
}

// EnrolmentCode is the one-time code an admin's MFA reset hands out: while the user has one, a new
// authenticator can only be enrolled by a sign-in that presented it. Stored as a hash.
type EnrolmentCode struct {
	UserID    string
	TenantID  string
	CodeHash  string
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// RecoveryCode is one hashed single-use recovery code.
type RecoveryCode struct {
	ID        string
	UserID    string
	Hash      string
	CreatedAt time.Time
	UsedAt    *time.Time
}

// AuditEvent records a security-relevant change or factor event.
type AuditEvent struct {
	ID        string
	TenantID  string
	ActorID   string // user or client id; empty for the system
	Action    string
	TargetID  string
	Address   string // client address
	Detail    map[string]any
	CreatedAt time.Time
}

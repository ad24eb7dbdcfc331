package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/portcullis/portcullis/clientreg"
	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/op"
	"github.com/portcullis/portcullis/pwpolicy"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/tenantadmin"
)

// What the CLI names, so that cmd/portcullis imports app only.
type (
	Tenant     = storage.Tenant
	User       = storage.User
	Client     = storage.Client
	AdminActor = tenantadmin.Actor
	NewUser    = tenantadmin.NewUser
	UserChange = tenantadmin.UserChange
	Member     = tenantadmin.Member
	AdminReset = tenantadmin.Reset
)

// Roles, grants and the sentinel errors the CLI checks with errors.Is.
const (
	RoleAdmin              = tenantadmin.RoleAdmin
	RoleMember             = tenantadmin.RoleMember
	GrantAuthorizationCode = clientreg.GrantAuthorizationCode
	GrantRefreshToken      = clientreg.GrantRefreshToken
	GrantClientCredentials = clientreg.GrantClientCredentials
	MFANone                = mfa.StateNone
	MinPasswordLen         = tenantadmin.MinPasswordLen
	MaxPasswordLen         = tenantadmin.MaxPasswordLen
)

var (
	ErrNotFound      = storage.ErrNotFound
	ErrAlreadyExists = storage.ErrAlreadyExists
	ErrLastAdmin     = tenantadmin.ErrLastAdmin
)

// ValidateRedirectURI is the provider's rule for redirect URIs (clientreg.ValidateRedirectURI).
func ValidateRedirectURI(raw string) error { return clientreg.ValidateRedirectURI(raw) }

// ValidateScope is the provider's rule for a client's extra scopes (clientreg.ValidateScope).
func ValidateScope(s string) error { return clientreg.ValidateScope(s) }

// NormalizeEmail is how emails are stored and looked up.
func NormalizeEmail(e string) string { return storage.NormalizeEmail(e) }

// Admin is the tenant-admin service on the configured database, for the CLI: the same operations,
// guards and audit events as the admin API, with the operator's clock.
type Admin struct {
	*tenantadmin.Service
	cfg   Config
	store *storage.Store
	now   func() time.Time
}

// OpenAdmin opens (and migrates) the configured database. now is the clock (nil: time.Now). The
// secret key is read only by the operations that need it (an MFA reset, a key rotation), so the
// others work without one.
func OpenAdmin(ctx context.Context, cfg Config, log *slog.Logger, now func() time.Time) (*Admin, error) {
	if now == nil {
		now = time.Now
	}
	st, err := OpenStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	svc := &tenantadmin.Service{Store: tenantadmin.FromStorage(st), Enrolment: &keyedEnrolment{cfg: cfg, now: now},
		Hasher: secret.NewHasher(secret.HasherOptions{}), Now: now, Passwords: pwpolicy.New(),
		Accounts: &lazyAccounts{cfg: cfg, store: st, now: now, log: log}, Issuer: cfg.Issuer}
	return &Admin{Service: svc, cfg: cfg, store: st, now: now}, nil
}

// Close releases the database.
func (a *Admin) Close() error { return a.store.Close() }

// keyedEnrolment makes enrolment codes hashed under the server's key, reading the key on first use.
type keyedEnrolment struct {
	cfg Config
	now func() time.Time
}

func (k *keyedEnrolment) NewEnrolmentCode(u storage.User, createdBy string) (string, storage.EnrolmentCode, error) {
	master, err := masterKey(k.cfg)
	if err != nil {
		return "", storage.EnrolmentCode{}, err
	}
	kh, err := secret.NewKeyedHash(master, "enrolment-codes")
	if err != nil {
		return "", storage.EnrolmentCode{}, err
	}
	return (&mfa.Service{EnrolmentHash: kh, Now: k.now}).NewEnrolmentCode(u, createdBy)
}

// KeyRotation is the outcome of RotateKey.
type KeyRotation struct {
	ID, Algorithm          string
	CreatedAt              time.Time
	PreviousID             string     // "" on the first key
	PreviousPublishedUntil *time.Time // when the previous key leaves the JWKS
}

// CheckSigningAlgorithm refuses an algorithm the server cannot sign with.
func CheckSigningAlgorithm(name string) error {
	_, err := op.ParseAlgorithm(name)
	return err
}

// RotateKey makes a new signing key with algorithm; the previous one stays published for overlap.
func (a *Admin) RotateKey(ctx context.Context, algorithm string, overlap time.Duration) (KeyRotation, error) {
	alg, err := op.ParseAlgorithm(algorithm)
	if err != nil {
		return KeyRotation{}, err
	}
	now := a.now().UTC()
	keys, err := NewKeys(a.cfg, a.store, func() time.Time { return now })
	if err != nil {
		return KeyRotation{}, err
	}
	current, err := a.store.SigningKeys(ctx, now)
	if err != nil {
		return KeyRotation{}, fmt.Errorf("rotate signing key: %w", err)
	}
	sk, err := keys.Rotate(ctx, alg, overlap)
	if err != nil {
		return KeyRotation{}, err
	}
	res := KeyRotation{ID: sk.ID, Algorithm: sk.Algorithm, CreatedAt: sk.CreatedAt.UTC()}
	for _, k := range current {
		if k.RetiredAt == nil && k.Algorithm == sk.Algorithm {
			until := now.Add(overlap)
			res.PreviousID, res.PreviousPublishedUntil = k.ID, &until
			break
		}
	}
	return res, nil
}

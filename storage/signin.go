package storage

import (
	"context"
	"database/sql"
	"time"
)

// The reads of a sign-in's steps (the login pages, the provider's callback, the code exchange): the auth
// request with what its step decides on (tenant and client, or tenant and user), one query each, on
// database/sql like the other hot paths (hotpaths.go). Read fresh on every call; nothing is kept.

const authRequestColumns = `a.id, a.tenant_id, a.client_id, a.redirect_uri, a.state, a.nonce, a.scopes, a.response_type,
 a.response_mode, a.code_challenge, a.code_challenge_method, a.prompt, a.max_age, a.login_hint, a.acr_values, a.ui_locales,
 a.require_mfa, a.hint_subject, a.created_at, a.expires_at, a.browser_hash, a.user_id, a.factors, a.auth_time, a.code_hash,
 a.code_expires_at, a.code_used_at, a.consumed_at`

// authRequestDest is where a row of authRequestColumns scans to, in their order.
func authRequestDest(r *authRequestRow) []any {
	return []any{&r.ID, &r.TenantID, &r.ClientID, &r.RedirectURI, &r.State, &r.Nonce, &r.Scopes, &r.ResponseType,
		&r.ResponseMode, &r.CodeChallenge, &r.CodeChallengeMethod, &r.Prompt, &r.MaxAge, &r.LoginHint, &r.ACRValues, &r.UILocales,
		&r.RequireMFA, &r.HintSubject, &r.CreatedAt, &r.ExpiresAt, &r.BrowserHash, &r.UserID, &r.Factors, &r.AuthTime, &r.CodeHash,
		&r.CodeExpiresAt, &r.CodeUsedAt, &r.ConsumedAt}
}

const tenantColumns = `t.id, t.slug, t.name, t.mfa_enabled, t.mfa_updated_at, t.mfa_updated_by, t.mfa_methods, t.created_at`

func tenantDest(r *tenantRow) []any {
	return []any{&r.ID, &r.Slug, &r.Name, &r.MFAEnabled, &r.MFAUpdatedAt, &r.MFAUpdatedBy, &r.MFAMethods, &r.CreatedAt}
}

const clientColumns = `c.id, c.tenant_id, c.name, c.secret_hash, c.public, c.redirect_uris, c.post_logout_uris, c.grants,
 c.scopes, c.admin, c.id_token_signed_response_alg, c.created_at`

func clientDest(r *clientRow) []any {
	return []any{&r.ID, &r.TenantID, &r.Name, &r.SecretHash, &r.Public, &r.RedirectURIs, &r.PostLogoutURIs, &r.Grants,
		&r.Scopes, &r.Admin, &r.IDTokenAlg, &r.CreatedAt}
}

const userColumns = `u.id, u.tenant_id, u.email, u.name, u.password_hash, u.role, u.disabled, u.email_verified, u.created_at,
 u.updated_at`

func userDest(r *userRow) []any {
	return []any{&r.ID, &r.TenantID, &r.Email, &r.Name, &r.PasswordHash, &r.Role, &r.Disabled, &r.EmailVerified, &r.CreatedAt,
		&r.UpdatedAt}
}

// optUser scans the user columns of an outer join: all NULL when there is no such user.
type optUser struct {
	id, tenantID, email, name, passwordHash, role sql.NullString
	disabled, emailVerified                       sql.NullBool
	createdAt, updatedAt                          sql.NullTime
}

func (o *optUser) dest() []any {
	return []any{&o.id, &o.tenantID, &o.email, &o.name, &o.passwordHash, &o.role, &o.disabled, &o.emailVerified,
		&o.createdAt, &o.updatedAt}
}

func (o *optUser) user() (User, bool) {
	if !o.id.Valid {
		return User{}, false
	}
	return userFromRow(userRow{ID: o.id.String, TenantID: o.tenantID.String, Email: o.email.String, Name: o.name.String,
		PasswordHash: o.passwordHash.String, Role: o.role.String, Disabled: o.disabled.Bool, EmailVerified: o.emailVerified.Bool,
		CreatedAt: o.createdAt.Time, UpdatedAt: o.updatedAt.Time}), true
}

const (
	authRequestByIDSQL = `SELECT ` + authRequestColumns + ` FROM auth_requests a WHERE a.id = ?`
	signInSQL          = `SELECT ` + authRequestColumns + `, ` + tenantColumns + `, ` + clientColumns + `
 FROM auth_requests a JOIN tenants t ON t.id = a.tenant_id JOIN clients c ON c.id = a.client_id WHERE a.id = ?`
	grantColumns = authRequestColumns + `, ` + tenantColumns + `, ` + userColumns + `
 FROM auth_requests a JOIN tenants t ON t.id = a.tenant_id LEFT JOIN users u ON u.id = a.user_id`
	authRequestGrantSQL = `SELECT ` + grantColumns + ` WHERE a.id = ?`
	codeGrantSQL        = `SELECT ` + grantColumns + ` WHERE a.code_hash = ?`
	tenantByIDSQL       = `SELECT ` + tenantColumns + ` FROM tenants t WHERE t.id = ?`
	userByIDSQL         = `SELECT ` + userColumns + ` FROM users u WHERE u.id = ?`
	userByEmailSQL      = `SELECT ` + userColumns + ` FROM users u WHERE u.tenant_id = ? AND u.email = ?`
)

// SignIn returns the auth request with its tenant and client, in one query: what every step of the
// login UI reads first. A request whose tenant or client is gone is ErrNotFound.
func (s *Store) SignIn(ctx context.Context, id string) (AuthRequest, Tenant, Client, error) {
	var a authRequestRow
	var t tenantRow
	var c clientRow
	dest := append(append(authRequestDest(&a), tenantDest(&t)...), clientDest(&c)...)
	if err := s.queryRow(ctx, signInSQL, id).Scan(dest...); err != nil {
		return AuthRequest{}, Tenant{}, Client{}, rowErr("sign-in", err)
	}
	return authRequestFromRow(a), tenantFromRow(t), clientFromRow(c), nil
}

// Grant is an auth request as the provider decides on it: with its tenant (the policy as it is now) and
// the user it names, when it names one that exists.
type Grant struct {
	Request AuthRequest
	Tenant  Tenant
	User    User
	HasUser bool // the request names a user and that user exists
}

func (s *Store) grant(ctx context.Context, op, q, arg string) (Grant, error) {
	var a authRequestRow
	var t tenantRow
	var u optUser
	dest := append(append(authRequestDest(&a), tenantDest(&t)...), u.dest()...)
	if err := s.queryRow(ctx, q, arg).Scan(dest...); err != nil {
		return Grant{}, rowErr(op, err)
	}
	g := Grant{Request: authRequestFromRow(a), Tenant: tenantFromRow(t)}
	g.User, g.HasUser = u.user()
	return g, nil
}

// AuthRequestGrant returns the auth request with its tenant and user, in one query.
func (s *Store) AuthRequestGrant(ctx context.Context, id string) (Grant, error) {
	return s.grant(ctx, "auth request grant", authRequestGrantSQL, id)
}

// TenantByID returns the tenant with that id.
func (s *Store) TenantByID(ctx context.Context, id string) (Tenant, error) {
	var r tenantRow
	if err := s.queryRow(ctx, tenantByIDSQL, id).Scan(tenantDest(&r)...); err != nil {
		return Tenant{}, rowErr("tenant by id", err)
	}
	return tenantFromRow(r), nil
}

// UserByID returns the user with that id.
func (s *Store) UserByID(ctx context.Context, id string) (User, error) {
	var r userRow
	if err := s.queryRow(ctx, userByIDSQL, id).Scan(userDest(&r)...); err != nil {
		return User{}, rowErr("user by id", err)
	}
	return userFromRow(r), nil
}

// UserByEmail returns the tenant's user with that email (compared case-insensitively).
func (s *Store) UserByEmail(ctx context.Context, tenantID, email string) (User, error) {
	var r userRow
	if err := s.queryRow(ctx, userByEmailSQL, tenantID, NormalizeEmail(email)).Scan(userDest(&r)...); err != nil {
		return User{}, rowErr("user by email", err)
	}
	return userFromRow(r), nil
}

// AuthRequestByID returns the auth request with that id, expired or not (the caller decides).
func (s *Store) AuthRequestByID(ctx context.Context, id string) (AuthRequest, error) {
	var r authRequestRow
	if err := s.queryRow(ctx, authRequestByIDSQL, id).Scan(authRequestDest(&r)...); err != nil {
		return AuthRequest{}, rowErr("auth request by id", err)
	}
	return authRequestFromRow(r), nil
}

// ConsumeCode marks the code used, atomically, and returns its auth request. A code that was used before
// returns the request with ErrConflict (so the caller can revoke what it produced); an unknown or expired
// code returns ErrNotFound.
func (s *Store) ConsumeCode(ctx context.Context, codeHash string, now time.Time) (AuthRequest, error) {
	g, err := s.ConsumeCodeGrant(ctx, codeHash, now)
	return g.Request, err
}

// ConsumeCodeGrant is ConsumeCode returning the request with its tenant and user (read after the mark,
// in one query).
func (s *Store) ConsumeCodeGrant(ctx context.Context, codeHash string, now time.Time) (Grant, error) {
	var n int64
	err := s.retried(ctx, func() error {
		res, err := s.db.Statement.ConnPool.ExecContext(ctx, s.rebind(consumeCodeSQL), utc(now), codeHash, utc(now))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return Grant{}, s.translateSQL("consume code", err)
	}
	g, err := s.grant(ctx, "consume code", codeGrantSQL, codeHash)
	if err != nil {
		return Grant{}, err
	}
	if n == 1 {
		return g, nil
	}
	if g.Request.CodeUsedAt != nil || g.Request.ConsumedAt != nil {
		return g, translate("consume code", ErrConflict)
	}
	return Grant{}, translate("consume code", ErrNotFound)
}

const consumeCodeSQL = `UPDATE auth_requests SET code_used_at = ?
 WHERE code_hash = ? AND code_used_at IS NULL AND consumed_at IS NULL AND code_expires_at > ?`

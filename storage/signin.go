package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
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
	authRequestGrantSQL = `SELECT ` + clientColumns + `, ` + grantColumns + ` JOIN clients c ON c.id = a.client_id WHERE a.id = ?`
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
	HasUser bool   // the request names a user and that user exists
	Client  Client // AuthRequestGrant only: the request's client
}

func (s *Store) grant(ctx context.Context, op, q, arg string, c *clientRow) (Grant, error) {
	var a authRequestRow
	var t tenantRow
	var u optUser
	var dest []any
	if c != nil {
		dest = clientDest(c)
	}
	dest = append(append(append(dest, authRequestDest(&a)...), tenantDest(&t)...), u.dest()...)
	if err := s.queryRow(ctx, q, arg).Scan(dest...); err != nil {
		return Grant{}, rowErr(op, err)
	}
	g := Grant{Request: authRequestFromRow(a), Tenant: tenantFromRow(t)}
	g.User, g.HasUser = u.user()
	return g, nil
}

// AuthRequestGrant returns the auth request with its tenant, user and client, in one query (the
// provider's callback answers with all four).
func (s *Store) AuthRequestGrant(ctx context.Context, id string) (Grant, error) {
	var c clientRow
	g, err := s.grant(ctx, "auth request grant", authRequestGrantSQL, id, &c)
	if err == nil {
		g.Client = clientFromRow(c)
	}
	return g, err
}

// TenantByID returns the tenant with that id.
func (s *Store) TenantByID(ctx context.Context, id string) (Tenant, error) {
	return readRow(ctx, s, "tenant by id", tenantByIDSQL, tenantDest, tenantFromRow, id)
}

// UserByID returns the user with that id.
func (s *Store) UserByID(ctx context.Context, id string) (User, error) {
	return readRow(ctx, s, "user by id", userByIDSQL, userDest, userFromRow, id)
}

// UserByEmail returns the tenant's user with that email (compared case-insensitively).
func (s *Store) UserByEmail(ctx context.Context, tenantID, email string) (User, error) {
	return readRow(ctx, s, "user by email", userByEmailSQL, userDest, userFromRow, tenantID, NormalizeEmail(email))
}

// AuthRequestByID returns the auth request with that id, expired or not (the caller decides).
func (s *Store) AuthRequestByID(ctx context.Context, id string) (AuthRequest, error) {
	return readRow(ctx, s, "auth request by id", authRequestByIDSQL, authRequestDest, authRequestFromRow, id)
}

// readRow runs the single-row query q, scans its row into an R through dest and converts it with conv;
// no row is ErrNotFound.
func readRow[R, T any](ctx context.Context, s *Store, op, q string, dest func(*R) []any, conv func(R) T, args ...any) (T, error) {
	var r R
	if err := s.queryRow(ctx, q, args...).Scan(dest(&r)...); err != nil {
		var zero T
		return zero, rowErr(op, err)
	}
	return conv(r), nil
}

// AuthRequestBinding returns the hash of the login cookie the auth request is bound to ("" when
// unbound): all that the provider's callback guard compares.
func (s *Store) AuthRequestBinding(ctx context.Context, id string) (string, error) {
	var h string
	if err := s.queryRow(ctx, `SELECT browser_hash FROM auth_requests WHERE id = ?`, id).Scan(&h); err != nil {
		return "", rowErr("auth request binding", err)
	}
	return h, nil
}

// ConsumeCode marks the code used and the request spent, atomically, and returns its auth request. A
// code that was used before returns the request with ErrConflict (so the caller can revoke what it
// produced); an unknown or expired code returns ErrNotFound.
func (s *Store) ConsumeCode(ctx context.Context, codeHash string, now time.Time) (AuthRequest, error) {
	g, err := s.ConsumeCodeGrant(ctx, codeHash, now)
	return g.Request, err
}

// ConsumeCodeGrant is ConsumeCode returning the request with its tenant and user (read after the mark,
// in one query).
func (s *Store) ConsumeCodeGrant(ctx context.Context, codeHash string, now time.Time) (Grant, error) {
	var n int64
	err := s.retried(ctx, func() error {
		res, err := s.execOn(ctx, s.pool(), consumeCodeSQL, utc(now), utc(now), codeHash, utc(now))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return Grant{}, s.translateSQL("consume code", err)
	}
	g, err := s.grant(ctx, "consume code", codeGrantSQL, codeHash, nil)
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

// Redeeming the code also spends the request: it can never yield another code, and tokens follow in
// the same token request (the provider's DeleteAuthRequest has nothing left to write).
const consumeCodeSQL = `UPDATE auth_requests SET code_used_at = ?, consumed_at = ?
 WHERE code_hash = ? AND code_used_at IS NULL AND consumed_at IS NULL AND code_expires_at > ?`

// The writes of a sign-in's steps, on database/sql (no reflection): on the writer connection, or on the
// transaction of a Store bound to one (InTx).

// exec runs one statement written with '?' placeholders.
func (s *Store) exec(ctx context.Context, op, q string, args ...any) (sql.Result, error) {
	res, err := s.execOn(ctx, s.pool(), q, args...)
	if err != nil {
		return nil, s.translateSQL(op, err)
	}
	return res, nil
}

// execOne runs one compare-and-set statement: anything but exactly one row changed is ErrConflict.
func (s *Store) execOne(ctx context.Context, op, q string, args ...any) error {
	res, err := s.exec(ctx, op, q, args...)
	if err != nil {
		return err
	}
	if err := spentOne(res); err != nil {
		return s.translateSQL(op, err)
	}
	return nil
}

const (
	insertAuthRequestSQL = `INSERT INTO auth_requests (id, tenant_id, client_id, redirect_uri, state, nonce, scopes, response_type,
 response_mode, code_challenge, code_challenge_method, prompt, max_age, login_hint, acr_values, ui_locales, require_mfa, hint_subject,
 created_at, expires_at, browser_hash, user_id, factors, auth_time, code_hash, code_expires_at, code_used_at, consumed_at)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	rebindBrowserSQL = `UPDATE auth_requests SET browser_hash = ?
 WHERE browser_hash = ? AND code_hash IS NULL AND consumed_at IS NULL`
	recordLoginSQL = `UPDATE auth_requests SET user_id = ?, factors = ?, auth_time = ?
 WHERE id = ? AND browser_hash = ? AND browser_hash <> '' AND user_id = ? AND factors = ? AND code_hash IS NULL AND consumed_at IS NULL`
	// RebindAndRecordLogin: the browser's other sign-ins move to the new binding; this one moves and
	// records in one compare-and-set (recordLoginSQL's conditions, against the binding it had).
	rebindOthersSQL = `UPDATE auth_requests SET browser_hash = ?
 WHERE browser_hash = ? AND id <> ? AND code_hash IS NULL AND consumed_at IS NULL`
	rebindRecordLoginSQL = `UPDATE auth_requests SET browser_hash = ?, user_id = ?, factors = ?, auth_time = ?
 WHERE id = ? AND browser_hash = ? AND browser_hash <> '' AND user_id = ? AND factors = ? AND code_hash IS NULL AND consumed_at IS NULL`
	pgRebindAndRecordLoginSQL = `WITH others AS (` + rebindOthersSQL + `) ` + rebindRecordLoginSQL
	saveAuthCodeSQL           = `UPDATE auth_requests SET code_hash = ?, code_expires_at = ?,
 expires_at = CASE WHEN expires_at < ? THEN ? ELSE expires_at END
 WHERE id = ? AND code_hash IS NULL AND consumed_at IS NULL`
	consumeAuthRequestSQL = `UPDATE auth_requests SET consumed_at = ? WHERE id = ? AND consumed_at IS NULL`
	insertSessionSQL      = `INSERT INTO sessions (id, tenant_id, user_id, factors, auth_time, created_at, expires_at)
 VALUES (?, ?, ?, ?, ?, ?, ?)`
	// CreateSignInSession: the session's row is taken from the sign-in's auth request, as it must still
	// be. SQLite runs one write at a time: the check and the insert are one step of the one writer.
	signInLiveSQL          = `SELECT 1 FROM auth_requests WHERE id = ? AND user_id = ? AND factors = ? AND code_used_at IS NULL AND consumed_at IS NULL`
	insertSignInSessionSQL = `INSERT INTO sessions (id, tenant_id, user_id, factors, auth_time, created_at, expires_at)
 SELECT ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (` + signInLiveSQL + `)`
	// PostgreSQL: the statement reads the auth request and locks it (FOR SHARE) until it commits, so
	// the delete of a change that ends the sign-in waits for the session and its later statements see
	// it, or the insert waits for the change and finds the request gone (endSessionsAndSignIns).
	pgInsertSignInSessionSQL = `WITH live AS (SELECT 1 FROM auth_requests WHERE id = $8 AND user_id = $3 AND factors = $4
 AND code_used_at IS NULL AND consumed_at IS NULL FOR SHARE)
 INSERT INTO sessions (id, tenant_id, user_id, factors, auth_time, created_at, expires_at)
 SELECT $1, $2, $3, $4, $5::timestamptz, $6::timestamptz, $7::timestamptz FROM live`
	insertAuditSQL = `INSERT INTO audit_events (id, tenant_id, actor_id, action, target_id, address, detail, created_at)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
)

// CreateAuthRequest stores a new auth request.
func (s *Store) CreateAuthRequest(ctx context.Context, a AuthRequest) error {
	r, err := authRequestToRow(a)
	if err != nil {
		return fmt.Errorf("create auth request: %w", err)
	}
	_, err = s.exec(ctx, "create auth request", insertAuthRequestSQL, r.ID, r.TenantID, r.ClientID, r.RedirectURI, r.State,
		r.Nonce, r.Scopes, r.ResponseType, r.ResponseMode, r.CodeChallenge, r.CodeChallengeMethod, r.Prompt, r.MaxAge, r.LoginHint,
		r.ACRValues, r.UILocales, r.RequireMFA, r.HintSubject, r.CreatedAt, r.ExpiresAt, r.BrowserHash, r.UserID, r.Factors,
		r.AuthTime, r.CodeHash, r.CodeExpiresAt, r.CodeUsedAt, r.ConsumedAt)
	return err
}

// RebindBrowser moves every sign-in in flight that is bound to oldHash (one browser's login cookie) to
// newHash, in one statement. The login UI mints a new cookie value at every step, so a value that was
// planted in or copied from a browser is worth nothing after that browser's next step.
func (s *Store) RebindBrowser(ctx context.Context, oldHash, newHash string) error {
	if oldHash == "" || newHash == "" {
		return nil
	}
	_, err := s.exec(ctx, "rebind browser", rebindBrowserSQL, newHash, oldHash)
	return err
}

// Proof names what a sign-in step verified before it records its login, so that the record holds only
// while that is still so: a password reset or change, a disabled or deleted user, an admin's MFA reset,
// a removed key or a replaced authenticator app that commits between the check and the record makes
// the record ErrConflict (see endSessionsAndSignIns for the interleavings). The zero Proof adds no
// condition of its own; a record that names a user the request did not name yet is always conditioned
// on that user existing and not being disabled.
type Proof struct {
	PasswordHash    string // the password step: the user's hash that the password was verified against
	AuthenticatorID string // a code or recovery code step, or an app's enrolment: the user's authenticator app
	CredentialID    string // a key's step (or a key just added): the WebAuthn credential (its storage id)
	SessionID       string // a session's factors carried over: that SSO session
}

// proofCondition returns the conditions that a record of userID's login under proof adds to its
// compare-and-set (prevUserID: the user the request named before), and their arguments. Each is an
// EXISTS on the row that must still be as the step saw it; on PostgreSQL it locks that row (FOR SHARE)
// until the record commits, so a change that updates or deletes the row waits for the record (and then
// sees it), or the record waits for the change and re-reads the row as the change left it (READ
// COMMITTED re-checks a locked row's newest version).
func (s *Store) proofCondition(prevUserID, userID string, p Proof) (string, []any) {
	if p == (Proof{}) && userID == prevUserID {
		return "", nil
	}
	lock := ""
	if s.dialect == DialectPostgres {
		lock = " FOR SHARE"
	}
	var b strings.Builder
	var args []any
	exists := func(from string, a ...any) {
		b.WriteString(" AND EXISTS (SELECT 1 FROM " + from + lock + ")")
		args = append(args, a...)
	}
	switch {
	case p.PasswordHash != "":
		exists("users WHERE id = ? AND password_hash = ? AND NOT disabled", userID, p.PasswordHash)
	case userID != prevUserID:
		exists("users WHERE id = ? AND NOT disabled", userID)
	}
	if p.AuthenticatorID != "" {
		exists("authenticators WHERE id = ? AND user_id = ?", p.AuthenticatorID, userID)
	}
	if p.CredentialID != "" {
		exists("webauthn_credentials WHERE id = ? AND user_id = ?", p.CredentialID, userID)
	}
	if p.SessionID != "" {
		exists("sessions WHERE id = ? AND user_id = ?", p.SessionID, userID)
	}
	return b.String(), args
}

// RecordLogin sets who is signing in and the factors proven so far, as one compare-and-set against the
// state the caller read (prev): the same browser, the same or no user, the same factors, and no code
// issued yet, and what the step verified (proof) still so. Anything else is ErrConflict, so a stale or
// parallel step can never add a factor, nor a step whose credential was changed or removed meanwhile.
func (s *Store) RecordLogin(ctx context.Context, prev AuthRequest, userID string, factors []string, authTime time.Time, proof Proof) error {
	var ls lists
	next, was := ls.join("factors", factors), ls.join("factors", prev.Factors)
	if ls.err != nil {
		return fmt.Errorf("record login: %w", ls.err)
	}
	cond, condArgs := s.proofCondition(prev.UserID, userID, proof)
	args := append([]any{userID, next, utc(authTime), prev.ID, prev.BrowserHash, prev.UserID, was}, condArgs...)
	return s.execOne(ctx, "record login", recordLoginSQL+cond, args...)
}

// RebindAndRecordLogin is RebindBrowser from prev.BrowserHash (the binding the browser holds) to newHash
// and then RecordLogin on prev under newHash (with proof), at once: one statement on PostgreSQL, one
// transaction on SQLite. On ErrConflict the other sign-ins of the browser were moved all the same (as by
// the two calls), so the caller hands the browser the new binding either way.
func (s *Store) RebindAndRecordLogin(ctx context.Context, prev AuthRequest, newHash, userID string, factors []string, authTime time.Time,
	proof Proof) error {
	if prev.BrowserHash == "" || newHash == "" {
		return translate("record login", ErrConflict)
	}
	var ls lists
	next, was := ls.join("factors", factors), ls.join("factors", prev.Factors)
	if ls.err != nil {
		return fmt.Errorf("record login: %w", ls.err)
	}
	cond, condArgs := s.proofCondition(prev.UserID, userID, proof)
	moveArgs := []any{newHash, prev.BrowserHash, prev.ID}
	recordArgs := append([]any{newHash, userID, next, utc(authTime), prev.ID, prev.BrowserHash, prev.UserID, was}, condArgs...)
	if s.dialect == DialectPostgres {
		return s.execOne(ctx, "record login", pgRebindAndRecordLoginSQL+cond, append(moveArgs, recordArgs...)...)
	}
	record := rebindRecordLoginSQL + cond
	s.prepareWrites(ctx, rebindOthersSQL, record)
	var conflict error
	err := s.sqlTx(ctx, "record login", func(tx *sql.Tx) error {
		if _, err := s.execOn(ctx, tx, rebindOthersSQL, moveArgs...); err != nil {
			return err
		}
		res, err := s.execOn(ctx, tx, record, recordArgs...)
		if err != nil {
			return err
		}
		conflict = spentOne(res) // commit the move either way
		return nil
	})
	if err != nil {
		return err
	}
	return s.translateSQL("record login", conflict)
}

// SaveAuthCode records the hash of the code issued for the request. It succeeds once per request.
func (s *Store) SaveAuthCode(ctx context.Context, id, codeHash string, expiresAt time.Time) error {
	// The request lives at least as long as its code, so the sweeper cannot take it from under an exchange.
	e := utc(expiresAt)
	return s.execOne(ctx, "save auth code", saveAuthCodeSQL, codeHash, e, e, e, id)
}

// ConsumeAuthRequest marks the request as spent after its tokens were issued; it stays until it
// expires so that a replayed code can still be traced to the tokens it produced.
func (s *Store) ConsumeAuthRequest(ctx context.Context, id string, now time.Time) error {
	_, err := s.exec(ctx, "consume auth request", consumeAuthRequestSQL, utc(now), id)
	return err
}

// CreateSession stores a new SSO session.
func (s *Store) CreateSession(ctx context.Context, ss Session) error {
	if ss.CreatedAt.IsZero() {
		ss.CreatedAt = time.Now()
	}
	factors, err := join(ss.Factors)
	if err != nil {
		return fmt.Errorf("create session: factors: %w", err)
	}
	_, err = s.exec(ctx, "create session", insertSessionSQL, ss.ID, ss.TenantID, ss.UserID, factors, utc(ss.AuthTime),
		utc(ss.CreatedAt), utc(ss.ExpiresAt))
	return err
}

// CreateSignInSession stores the SSO session that the sign-in authRequestID completed: only while that
// auth request still exists, names ss.UserID with exactly ss.Factors and has no code redeemed, in one
// statement. Anything else is ErrConflict and stores nothing: a change that ended the user's sign-ins
// in flight (endSessionsAndSignIns) after the sign-in recorded its factors leaves no session behind.
func (s *Store) CreateSignInSession(ctx context.Context, authRequestID string, ss Session) error {
	if ss.CreatedAt.IsZero() {
		ss.CreatedAt = time.Now()
	}
	factors, err := join(ss.Factors)
	if err != nil {
		return fmt.Errorf("create sign-in session: factors: %w", err)
	}
	args := []any{ss.ID, ss.TenantID, ss.UserID, factors, utc(ss.AuthTime), utc(ss.CreatedAt), utc(ss.ExpiresAt), authRequestID}
	q := insertSignInSessionSQL
	if s.dialect == DialectPostgres {
		q = pgInsertSignInSessionSQL
	} else {
		args = append(args, ss.UserID, factors)
	}
	err = s.retried(ctx, func() error {
		res, err := s.execOn(ctx, s.pool(), q, args...)
		if err != nil {
			return err
		}
		return spentOne(res)
	})
	if err = s.translateSQL("create sign-in session", err); errors.Is(err, gorm.ErrForeignKeyViolated) {
		return translate("create sign-in session", ErrConflict) // the user is gone
	}
	return err
}

// AddAudit records an audit event.
func (s *Store) AddAudit(ctx context.Context, ev AuditEvent) error {
	r, err := auditRow(ev)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, "add audit event", insertAuditSQL, r.ID, r.TenantID, r.ActorID, r.Action, r.TargetID, r.Address, r.Detail,
		r.CreatedAt)
	return err
}

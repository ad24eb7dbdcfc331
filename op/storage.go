package op

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	oidcop "github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portcullis/portcullis/clientreg"
	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
)

// Storage implements the provider library's storage contract on our database.
type Storage struct {
	Store    *storage.Store
	Keys     *Keys
	Crypto   oidcop.Crypto // the provider's crypto: opaque refresh tokens are sealed with it
	Now      func() time.Time
	LoginURL func(authRequestID string) string
	Log      *slog.Logger

	OnToken        func(grant string) // counts issued access tokens by grant type; optional
	AdminAudience  string             // audience of tokens for the admin API
	AuthRequestTTL time.Duration
	CodeTTL        time.Duration
	AccessTTL      time.Duration
	RefreshTTL     time.Duration
	IDTokenTTL     time.Duration
}

var (
	_ oidcop.Storage                        = (*Storage)(nil)
	_ oidcop.CanSetUserinfoFromRequest      = (*Storage)(nil)
	_ oidcop.CanGetPrivateClaimsFromRequest = (*Storage)(nil)
	_ oidcop.ClientCredentialsStorage       = (*Storage)(nil)
)

type claimsParamKey struct{}

type responseTypeKey struct{}

type missingResponseTypeKey struct{}

// withMissingResponseType marks a request without response_type, which the provider handler let the
// library validate as code so that CreateAuthRequest can send invalid_request to the app
// (RFC 6749 §4.1.2.1): the library refuses an http redirect URI without a response type with a page.
func withMissingResponseType(ctx context.Context) context.Context {
	return context.WithValue(ctx, missingResponseTypeKey{}, true)
}

// withUnsupportedResponseType carries a response type other than code, which the provider handler
// replaced by code so that the library validates the client and redirect URI before CreateAuthRequest
// refuses it.
func withUnsupportedResponseType(ctx context.Context, v string) context.Context {
	return context.WithValue(ctx, responseTypeKey{}, v)
}

// withClaimsParam carries the raw OIDC "claims" request parameter to CreateAuthRequest: the library
// does not parse it, and an essential acr claim is one way for an app to demand MFA.
func withClaimsParam(ctx context.Context, v string) context.Context {
	return context.WithValue(ctx, claimsParamKey{}, v)
}

// CreateAuthRequest stores a validated /authorize request. hintSubject is the subject of the request's
// id_token_hint, which the library has verified (signature and issuer; an expired one is accepted as a
// hint): only a browser session of that user may answer the request.
func (s *Storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, hintSubject string) (oidcop.AuthRequest, error) {
	c, err := s.Store.ClientByID(ctx, req.ClientID)
	if err != nil {
		return nil, oidc.ErrInvalidRequest().WithDescription("unknown client")
	}
	if missing, _ := ctx.Value(missingResponseTypeKey{}).(bool); missing {
		return nil, oidc.ErrInvalidRequest().WithDescription("response_type is missing")
	}
	if rt, _ := ctx.Value(responseTypeKey{}).(string); rt != "" || req.ResponseType != oidc.ResponseTypeCode {
		return nil, &oidc.Error{ErrorType: "unsupported_response_type", Description: "only response_type=code is supported"}
	}
	switch req.ResponseMode {
	case "", oidc.ResponseModeQuery, oidc.ResponseModeFormPost:
	default:
		return nil, oidc.ErrInvalidRequest().WithDescription("response_mode must be query or form_post")
	}
	switch {
	case req.CodeChallenge == "" && c.Public:
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE (code_challenge with S256) is required for public clients")
	case req.CodeChallenge != "" && req.CodeChallengeMethod != oidc.CodeChallengeMethodS256:
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	requireMFA := mfa.DemandsMFA(req.ACRValues)
	if raw, _ := ctx.Value(claimsParamKey{}).(string); raw != "" {
		demands, err := essentialACRDemandsMFA(raw)
		if err != nil {
			return nil, oidc.ErrInvalidRequest().WithDescription("the claims parameter is not valid JSON")
		}
		requireMFA = requireMFA || demands
	}
	now := s.Now().UTC()
	a := storage.AuthRequest{
		ID: storage.NewID(), TenantID: c.TenantID, ClientID: c.ID, RedirectURI: req.RedirectURI, State: req.State,
		Nonce: req.Nonce, Scopes: grantableScopes(c, req.Scopes), ResponseType: string(req.ResponseType),
		ResponseMode: string(req.ResponseMode), CodeChallenge: req.CodeChallenge,
		CodeChallengeMethod: string(req.CodeChallengeMethod), Prompt: req.Prompt, LoginHint: req.LoginHint,
		ACRValues: req.ACRValues, UILocales: localeStrings(req.UILocales), RequireMFA: requireMFA,
		HintSubject: hintSubject, CreatedAt: now, ExpiresAt: now.Add(s.AuthRequestTTL),
	}
	if req.MaxAge != nil {
		m := int64(*req.MaxAge)
		a.MaxAge = &m
	}
	if err := s.Store.CreateAuthRequest(ctx, a); err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return s.view(ctx, a)
}

func localeStrings(l oidc.Locales) []string {
	out := make([]string, 0, len(l))
	for _, t := range l {
		out = append(out, t.String())
	}
	return out
}

// grantableScopes keeps the standard OIDC scopes, offline_access only for clients with the refresh
// grant, and extra scopes registered for the client. The admin scope is decided at sign-in.
func grantableScopes(c storage.Client, requested []string) []string {
	var out []string
	for _, sc := range requested {
		switch {
		case sc == oidc.ScopeOpenID, sc == oidc.ScopeProfile, sc == oidc.ScopeEmail:
		case sc == oidc.ScopeOfflineAccess && c.HasGrant(clientreg.GrantRefreshToken):
		case sc == clientreg.AdminScope:
		case slices.Contains(c.Scopes, sc):
		default:
			continue
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out
}

// AuthRequestByID loads the request for the callback and the login UI.
func (s *Storage) AuthRequestByID(ctx context.Context, id string) (oidcop.AuthRequest, error) {
	a, err := s.Store.AuthRequestByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("auth request: %w", err)
	}
	if !s.Now().Before(a.ExpiresAt) {
		return nil, errors.New("auth request expired")
	}
	return s.view(ctx, a)
}

// Evaluate computes whether a stored auth request is done, and its amr and acr, from the factors
// recorded on it against the tenant's policy now. The login UI uses it too, so both agree.
func (s *Storage) Evaluate(ctx context.Context, a storage.AuthRequest) (done bool, amr []string, acr string, err error) {
	v, err := s.view(ctx, a)
	if err != nil {
		return false, nil, "", err
	}
	return v.done, v.amr, v.acr, nil
}

func (s *Storage) view(ctx context.Context, a storage.AuthRequest) (*authRequest, error) {
	t, err := s.Store.TenantByID(ctx, a.TenantID)
	if err != nil {
		return nil, fmt.Errorf("auth request tenant: %w", err)
	}
	v := &authRequest{AuthRequest: a, audience: []string{a.ClientID}}
	v.Scopes = slices.DeleteFunc(slices.Clone(a.Scopes), func(sc string) bool { return sc == clientreg.AdminScope })
	if a.UserID == "" {
		return v, nil
	}
	u, err := s.Store.UserByID(ctx, a.UserID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return v, nil // the user was deleted mid-flow: never done
	case err != nil:
		return nil, fmt.Errorf("auth request user: %w", err)
	}
	// The admin scope (and the admin API audience) is granted to the tenant's admins only.
	if slices.Contains(a.Scopes, clientreg.AdminScope) && u.Role == storage.RoleAdmin && u.TenantID == a.TenantID {
		v.Scopes = a.Scopes
		if s.AdminAudience != "" {
			v.audience = append(v.audience, s.AdminAudience)
		}
	}
	required := mfa.Required(t.MFAEnabled, a.RequireMFA)
	// An issued code carries the request past its login deadline; before that, an expired request is
	// never done.
	live := s.Now().Before(a.ExpiresAt) || a.CodeHash != ""
	v.done = !u.Disabled && u.TenantID == a.TenantID && live && mfa.Satisfied(required, a.Factors)
	v.amr = mfa.AMR(a.Factors)
	v.acr = mfa.ACR(a.Factors)
	return v, nil
}

// SaveAuthCode stores the code (hashed) once per request. A request that already has a code (the
// callback hit again) gets a plain invalid_request for the app; no internals reach it.
func (s *Storage) SaveAuthCode(ctx context.Context, id, code string) error {
	err := s.Store.SaveAuthCode(ctx, id, secret.TokenHash(code), s.Now().Add(s.CodeTTL))
	switch {
	case errors.Is(err, storage.ErrConflict):
		return oidc.ErrInvalidRequest().WithDescription("this sign-in was already completed")
	case err != nil:
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

// AuthRequestByCode consumes the code atomically: a code works once. A replayed code revokes every
// token its first use produced (RFC 6749 §4.1.2).
func (s *Storage) AuthRequestByCode(ctx context.Context, code string) (oidcop.AuthRequest, error) {
	a, err := s.Store.ConsumeCode(ctx, secret.TokenHash(code), s.Now())
	switch {
	case errors.Is(err, storage.ErrConflict):
		if n, rerr := s.Store.RevokeGrant(ctx, a.ID, s.Now()); rerr == nil {
			s.Log.WarnContext(ctx, "authorization code replayed: grant revoked", "auth_request", a.ID, "revoked", n)
		}
		return nil, oidc.ErrInvalidGrant().WithDescription("the authorization code was already used")
	case err != nil:
		return nil, oidc.ErrInvalidGrant().WithDescription("the authorization code is invalid or expired")
	}
	v, err := s.view(ctx, a)
	if err != nil {
		return nil, err
	}
	if !v.done { // the factors no longer satisfy the policy (user disabled, policy changed)
		return nil, oidc.ErrInvalidGrant().WithDescription("the sign-in no longer satisfies the tenant's policy")
	}
	return v, nil
}

// DeleteAuthRequest is called after tokens were issued: the request is marked spent, not deleted,
// so that a replayed code can still be traced to its tokens until the row expires.
func (s *Storage) DeleteAuthRequest(ctx context.Context, id string) error {
	return s.Store.ConsumeAuthRequest(ctx, id, s.Now())
}

func factsOf(req oidcop.TokenRequest) (tokenFacts, error) {
	if f, ok := req.(factsCarrier); ok {
		return f.facts(), nil
	}
	return tokenFacts{}, fmt.Errorf("unsupported token request %T", req)
}

func (s *Storage) newAccessToken(f tokenFacts) storage.AccessToken {
	now := s.Now().UTC()
	return storage.AccessToken{ID: storage.NewID(), GrantID: f.grantID, TenantID: f.tenantID, ClientID: f.clientID,
		Subject: f.subject, Scopes: f.scopes, Audience: f.audience, AMR: f.amr, ACR: f.acr, AuthTime: f.authTime,
		CreatedAt: now, ExpiresAt: now.Add(s.AccessTTL)}
}

// CreateAccessToken records an access token (code flow without refresh, or client_credentials).
func (s *Storage) CreateAccessToken(ctx context.Context, req oidcop.TokenRequest) (string, time.Time, error) {
	f, err := factsOf(req)
	if err != nil {
		return "", time.Time{}, oidc.ErrServerError().WithParent(err)
	}
	at := s.newAccessToken(f)
	if err := s.Store.CreateTokens(ctx, at, nil); err != nil {
		return "", time.Time{}, oidc.ErrServerError().WithParent(err)
	}
	s.tokenIssued(req)
	return at.ID, at.ExpiresAt, nil
}

// CreateAccessAndRefreshTokens issues an access token and a refresh token; with currentRefreshToken
// set it rotates: the old token is spent in the same transaction that stores the new ones.
func (s *Storage) CreateAccessAndRefreshTokens(ctx context.Context, req oidcop.TokenRequest, current string) (string, string, time.Time, error) {
	f, err := factsOf(req)
	if err != nil {
		return "", "", time.Time{}, oidc.ErrServerError().WithParent(err)
	}
	at := s.newAccessToken(f)
	rtID := storage.NewID()
	value, err := s.Crypto.Encrypt(rtID + ":" + f.subject)
	if err != nil {
		return "", "", time.Time{}, oidc.ErrServerError().WithParent(err)
	}
	rt := storage.RefreshToken{ID: rtID, TokenHash: secret.TokenHash(value), GrantID: f.grantID, TenantID: f.tenantID,
		ClientID: f.clientID, Subject: f.subject, Scopes: f.scopes, Audience: f.audience, AMR: f.amr, ACR: f.acr,
		AuthTime: f.authTime, CreatedAt: at.CreatedAt, ExpiresAt: at.CreatedAt.Add(s.RefreshTTL)}
	if current == "" {
		err = s.Store.CreateTokens(ctx, at, &rt)
	} else {
		err = s.Store.RotateRefreshToken(ctx, secret.TokenHash(current), s.Now(), at, rt)
		if errors.Is(err, storage.ErrConflict) {
			s.revokeFamily(ctx, f.grantID)
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("the refresh token was already used")
		}
	}
	if err != nil {
		return "", "", time.Time{}, oidc.ErrServerError().WithParent(err)
	}
	s.tokenIssued(req)
	return at.ID, value, at.ExpiresAt, nil
}

func (s *Storage) tokenIssued(req oidcop.TokenRequest) {
	if s.OnToken == nil {
		return
	}
	switch req.(type) {
	case *authRequest:
		s.OnToken(clientreg.GrantAuthorizationCode)
	case *refreshRequest:
		s.OnToken(clientreg.GrantRefreshToken)
	case *serviceRequest:
		s.OnToken(clientreg.GrantClientCredentials)
	}
}

func (s *Storage) revokeFamily(ctx context.Context, grantID string) {
	n, err := s.Store.RevokeGrant(ctx, grantID, s.Now())
	if err != nil {
		s.Log.ErrorContext(ctx, "revoke token family", "grant", grantID, "err", err)
		return
	}
	s.Log.WarnContext(ctx, "refresh token reused: token family revoked", "grant", grantID, "revoked", n)
}

// TokenRequestByRefreshToken loads a live refresh token. Presenting a spent one is treated as theft:
// the whole family (and its access tokens) is revoked.
func (s *Storage) TokenRequestByRefreshToken(ctx context.Context, token string) (oidcop.RefreshTokenRequest, error) {
	rt, err := s.Store.RefreshTokenByHash(ctx, secret.TokenHash(token))
	if err != nil {
		return nil, oidc.ErrInvalidGrant().WithDescription("invalid refresh token")
	}
	now := s.Now()
	switch {
	case rt.UsedAt != nil:
		s.revokeFamily(ctx, rt.GrantID)
		return nil, oidc.ErrInvalidGrant().WithDescription("the refresh token was already used")
	case rt.RevokedAt != nil, !now.Before(rt.ExpiresAt):
		return nil, oidc.ErrInvalidGrant().WithDescription("the refresh token is revoked or expired")
	}
	u, err := s.Store.UserByID(ctx, rt.Subject)
	if err != nil || u.Disabled {
		return nil, oidc.ErrInvalidGrant().WithDescription("the user can no longer sign in")
	}
	// A refresh token is a standing sign-in: when the tenant now requires MFA and this one was made
	// without it, it yields nothing more until the user signs in again with the second factor.
	t, err := s.Store.TenantByID(ctx, rt.TenantID)
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	if mfa.Required(t.MFAEnabled, false) && !slices.Contains(rt.AMR, "mfa") {
		return nil, oidc.ErrInvalidGrant().WithDescription("the tenant now requires multi-factor authentication: sign in again")
	}
	return &refreshRequest{rt: rt}, nil
}

// TerminateSession is called at end_session; the browser session is ended by the login UI's
// end-session wrapper, which sees the cookie. Here we only log.
func (s *Storage) TerminateSession(ctx context.Context, userID, clientID string) error {
	s.Log.InfoContext(ctx, "end session", "user", userID, "client", clientID)
	return nil
}

// GetRefreshTokenInfo identifies a refresh token for revocation.
func (s *Storage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	rt, err := s.Store.RefreshTokenByHash(ctx, secret.TokenHash(token))
	if err != nil || rt.ClientID != clientID {
		return "", "", oidcop.ErrInvalidRefreshToken
	}
	return rt.Subject, rt.ID, nil
}

// RevokeToken revokes an access token (by id) or a refresh token (by id, after GetRefreshTokenInfo).
// Revoking a refresh token revokes its whole grant, access tokens included (RFC 7009 §2.1). Unknown
// tokens are not an error (RFC 7009 §2.2).
func (s *Storage) RevokeToken(ctx context.Context, tokenOrID, _, clientID string) *oidc.Error {
	now := s.Now()
	if at, err := s.Store.AccessTokenByID(ctx, tokenOrID); err == nil {
		if at.ClientID != clientID {
			return oidc.ErrUnauthorizedClient().WithDescription("the token was not issued to this client")
		}
		if err := s.Store.RevokeAccessToken(ctx, at.ID, clientID, now); err != nil {
			return oidc.ErrServerError().WithParent(err)
		}
		return nil
	}
	rt, err := s.Store.RefreshTokenByID(ctx, tokenOrID)
	if err != nil {
		return nil
	}
	if rt.ClientID != clientID {
		return oidc.ErrUnauthorizedClient().WithDescription("the token was not issued to this client")
	}
	if _, err := s.Store.RevokeGrant(ctx, rt.GrantID, now); err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

// SigningKey returns the current signing key.
func (s *Storage) SigningKey(ctx context.Context) (oidcop.SigningKey, error) {
	return s.Keys.SigningKey(ctx)
}

// SignatureAlgorithms lists the algorithms of the published keys.
func (s *Storage) SignatureAlgorithms(ctx context.Context) ([]jose.SignatureAlgorithm, error) {
	keys, err := s.Keys.KeySet(ctx)
	if err != nil {
		return nil, err
	}
	var out []jose.SignatureAlgorithm
	for _, k := range keys {
		if !slices.Contains(out, k.Algorithm()) {
			out = append(out, k.Algorithm())
		}
	}
	return out, nil
}

// KeySet returns the published public keys.
func (s *Storage) KeySet(ctx context.Context) ([]oidcop.Key, error) { return s.Keys.KeySet(ctx) }

// GetClientByClientID loads a client. Unknown clients are a plain error, faults a server error.
func (s *Storage) GetClientByClientID(ctx context.Context, id string) (oidcop.Client, error) {
	c, err := s.Store.ClientByID(ctx, id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, errors.New("unknown client")
	case err != nil:
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return &client{c: c, loginURL: s.LoginURL, idTTL: s.IDTokenTTL}, nil
}

// AuthorizeClientIDSecret checks a confidential client's secret (keyed hash, constant time). An
// unknown client is a plain error (the caller answers invalid_client), a database fault a server error.
func (s *Storage) AuthorizeClientIDSecret(ctx context.Context, id, sec string) error {
	c, err := s.Store.ClientByID(ctx, id)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return oidc.ErrServerError().WithParent(err)
	}
	if err != nil || c.Public || c.SecretHash == "" {
		return errors.New("invalid client credentials")
	}
	if !secret.VerifyClientSecret(c.SecretHash, sec) {
		return errors.New("invalid client credentials")
	}
	return nil
}

// ClientCredentials authenticates a service client for the client_credentials grant.
func (s *Storage) ClientCredentials(ctx context.Context, id, sec string) (oidcop.Client, error) {
	if err := s.AuthorizeClientIDSecret(ctx, id, sec); err != nil {
		return nil, err
	}
	return s.GetClientByClientID(ctx, id)
}

// ClientCredentialsTokenRequest builds the token request of a service client. Only its registered extra
// scopes are granted; the admin scope only to clients marked admin.
func (s *Storage) ClientCredentialsTokenRequest(ctx context.Context, id string, scopes []string) (oidcop.TokenRequest, error) {
	c, err := s.Store.ClientByID(ctx, id)
	if err != nil {
		return nil, errors.New("unknown client")
	}
	if !c.HasGrant(clientreg.GrantClientCredentials) {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("the client may not use client_credentials")
	}
	var granted []string
	audience := []string{c.ID}
	for _, sc := range scopes {
		switch {
		case sc == clientreg.AdminScope && c.Admin:
			granted = append(granted, sc)
			if s.AdminAudience != "" {
				audience = append(audience, s.AdminAudience)
			}
		case slices.Contains(c.Scopes, sc):
			granted = append(granted, sc)
		}
	}
	return &serviceRequest{client: c, scopes: granted, audience: audience, grantID: storage.NewID()}, nil
}

// SetUserinfoFromScopes is deprecated in the library; SetUserinfoFromRequest does the work.
func (s *Storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's user claims.
func (s *Storage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req oidcop.IDTokenRequest, scopes []string) error {
	if err := s.setUserinfo(ctx, ui, req.GetSubject(), scopes); err != nil {
		return err
	}
	if r, ok := req.(*refreshRequest); ok && r.rt.ACR != "" {
		ui.AppendClaims("acr", r.rt.ACR) // the library drops acr on refresh; registered claims still win
	}
	return nil
}

// SetUserinfoFromToken answers /userinfo for a live, unrevoked access token.
func (s *Storage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, _ string) error {
	at, err := s.Store.AccessTokenByID(ctx, tokenID)
	if err != nil || at.Subject != subject || at.RevokedAt != nil || !s.Now().Before(at.ExpiresAt) {
		return errors.New("invalid token")
	}
	if at.Subject == at.ClientID { // a service token has no user
		return errors.New("the token has no user")
	}
	return s.setUserinfo(ctx, ui, subject, at.Scopes)
}

func (s *Storage) setUserinfo(ctx context.Context, ui *oidc.UserInfo, subject string, scopes []string) error {
	u, err := s.Store.UserByID(ctx, subject)
	if err != nil {
		return fmt.Errorf("userinfo: %w", err)
	}
	if u.Disabled {
		return errors.New("userinfo: user disabled")
	}
	ui.Subject = u.ID
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeEmail:
			ui.Email = u.Email
			ui.EmailVerified = oidc.Bool(u.EmailVerified)
		case oidc.ScopeProfile:
			ui.Name = u.Name
		}
	}
	ui.AppendClaims("tenant", u.TenantID)
	return nil
}

// SetIntrospectionFromToken answers /introspect for access and refresh tokens of the caller's tenant.
func (s *Storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	caller, err := s.Store.ClientByID(ctx, clientID)
	if err != nil {
		return err
	}
	now := s.Now()
	var f tokenFacts
	var exp, iat time.Time
	if at, err := s.Store.AccessTokenByID(ctx, tokenID); err == nil {
		if at.RevokedAt != nil || !now.Before(at.ExpiresAt) {
			return errors.New("inactive")
		}
		f = tokenFacts{tenantID: at.TenantID, clientID: at.ClientID, subject: at.Subject, scopes: at.Scopes,
			audience: at.Audience, amr: at.AMR, acr: at.ACR, authTime: at.AuthTime}
		exp, iat = at.ExpiresAt, at.CreatedAt
	} else if rt, err := s.Store.RefreshTokenByID(ctx, tokenID); err == nil {
		if rt.RevokedAt != nil || rt.UsedAt != nil || !now.Before(rt.ExpiresAt) {
			return errors.New("inactive")
		}
		f = tokenFacts{tenantID: rt.TenantID, clientID: rt.ClientID, subject: rt.Subject, scopes: rt.Scopes,
			audience: rt.Audience, amr: rt.AMR, acr: rt.ACR, authTime: rt.AuthTime}
		exp, iat = rt.ExpiresAt, rt.CreatedAt
	} else {
		return errors.New("unknown token")
	}
	if f.subject != subject || f.tenantID != caller.TenantID {
		return errors.New("not visible to this client")
	}
	resp.Active = true
	resp.Scope = f.scopes
	resp.ClientID = f.clientID
	resp.TokenType = oidc.BearerToken
	resp.Expiration = oidc.FromTime(exp)
	resp.IssuedAt = oidc.FromTime(iat)
	resp.Subject = f.subject
	resp.Audience = f.audience
	resp.Issuer = oidcop.IssuerFromContext(ctx)
	resp.Claims = map[string]any{"tenant": f.tenantID}
	if len(f.amr) > 0 {
		resp.AuthenticationMethodsReferences = f.amr
		resp.AuthTime = oidc.FromTime(f.authTime)
		resp.Claims["acr"] = f.acr
	}
	return nil
}

// GetPrivateClaimsFromRequest adds to JWT access tokens how the user signed in (RFC 9068 §2.2.1) and
// the tenant, so resource servers can check them offline.
func (s *Storage) GetPrivateClaimsFromRequest(_ context.Context, req oidcop.TokenRequest, _ []string) (map[string]any, error) {
	f, err := factsOf(req)
	if err != nil {
		return nil, err
	}
	claims := map[string]any{"tenant": f.tenantID, "scope": strings.Join(f.scopes, " ")}
	if len(f.amr) > 0 {
		claims["amr"] = f.amr
		claims["acr"] = f.acr
		claims["auth_time"] = f.authTime.Unix()
	}
	return claims, nil
}

// GetPrivateClaimsFromScopes is unused: GetPrivateClaimsFromRequest takes precedence.
func (s *Storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID: private_key_jwt and the JWT-profile grant are not offered.
func (s *Storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("private_key_jwt is not supported")
}

// ValidateJWTProfileScopes: the JWT-profile grant is not offered.
func (s *Storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("the jwt-bearer grant is not supported")
}

// Health reports whether the database answers.
func (s *Storage) Health(ctx context.Context) error { return s.Store.Ping(ctx) }

package op

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	oidcop "github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portcullis/portcullis/clientreg"
	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
)

// Storage implements the provider library's storage contract on our database.
type Storage struct {
	Store    Store
	Keys     *Keys
	Crypto   oidcop.Crypto // the provider's crypto: opaque refresh tokens are sealed with it
	Now      func() time.Time
	LoginURL func(authRequestID string) string
	Log      *slog.Logger
	// Hasher verifies client secrets hashed with argon2id before the current scheme, within its bounds
	// (*secret.Hasher); a nil Hasher verifies them without bounds (tests).
	Hasher Hasher

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

// errUnmetAuthenticationRequirements is the error of OpenID Connect Core Unmet Authentication
// Requirements 1.0 §3: the provider cannot meet an essential acr claim (Core §5.5.1.1).
const errUnmetAuthenticationRequirements = "unmet_authentication_requirements"

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
	c, err := s.clientByID(ctx, req.ClientID)
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
	acrValues := req.ACRValues
	if raw, _ := ctx.Value(claimsParamKey{}).(string); raw != "" {
		demand, err := essentialACR(raw)
		switch {
		case errors.Is(err, errUnmetACR):
			// OIDC Core §5.5.1.1: an essential acr that cannot be met is a failed authentication. No
			// sign-in here can earn any of the values, so the app learns it now, not after a sign-in.
			return nil, &oidc.Error{ErrorType: errUnmetAuthenticationRequirements,
				Description: "none of the essential acr values can be met"}
		case err != nil:
			return nil, oidc.ErrInvalidRequest().WithDescription("the claims parameter is not a valid claims request")
		}
		// The demand is stored with the request's acr values, where the login UI and view() read what
		// the request asks for (mfa.DemandsMFA, mfa.DemandsPHR).
		if demand != "" && demand != mfa.ACRPassword && !slices.Contains(acrValues, demand) {
			acrValues = append(slices.Clone(acrValues), demand)
		}
	}
	requireMFA := mfa.DemandsMFA(acrValues)
	now := s.Now().UTC()
	a := storage.AuthRequest{
		ID: storage.NewID(), TenantID: c.TenantID, ClientID: c.ID, RedirectURI: req.RedirectURI, State: req.State,
		Nonce: req.Nonce, Scopes: grantableScopes(c, req.Scopes), ResponseType: string(req.ResponseType),
		ResponseMode: string(req.ResponseMode), CodeChallenge: req.CodeChallenge,
		CodeChallengeMethod: string(req.CodeChallengeMethod), Prompt: req.Prompt, LoginHint: req.LoginHint,
		ACRValues: acrValues, UILocales: localeStrings(req.UILocales), RequireMFA: requireMFA,
		HintSubject: hintSubject, CreatedAt: now, ExpiresAt: now.Add(s.AuthRequestTTL),
	}
	if req.MaxAge != nil {
		m := int64(*req.MaxAge)
		a.MaxAge = &m
	}
	if err := s.Store.CreateAuthRequest(ctx, a); err != nil {
		if errors.Is(err, storage.ErrInvalid) { // a space-delimited parameter with other whitespace inside a value
			return nil, oidc.ErrInvalidRequest().WithDescription("a space-delimited parameter holds other whitespace inside a value")
		}
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return s.view(storage.Grant{Request: a}), nil // no user yet: the tenant's policy does not matter
}

func localeStrings(l oidc.Locales) []string {
	out := make([]string, 0, len(l))
	for _, t := range l {
		out = append(out, t.String())
	}
	return out
}

// grantableScopes keeps the standard OIDC scopes, offline_access only for clients with the refresh
// grant, and extra scopes registered for the client. The admin scope stays only for an admin client,
// and is decided at sign-in (view: the tenant's admins only).
func grantableScopes(c storage.Client, requested []string) []string {
	var out []string
	for _, sc := range requested {
		switch {
		case sc == oidc.ScopeOpenID, sc == oidc.ScopeProfile, sc == oidc.ScopeEmail:
		case sc == oidc.ScopeOfflineAccess && c.HasGrant(clientreg.GrantRefreshToken):
		case sc == clientreg.AdminScope && c.Admin:
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
	g, err := s.Store.AuthRequestGrant(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("auth request: %w", err)
	}
	if !s.Now().Before(g.Request.ExpiresAt) {
		return nil, errors.New("auth request expired")
	}
	keepClient(ctx, g.Client) // the callback's answer reads it next
	return s.view(g), nil
}

// view is the provider's read model of a request, from the request, its tenant and its user as read
// together in this request.
func (s *Storage) view(g storage.Grant) *authRequest {
	a, t, u := g.Request, g.Tenant, g.User
	v := &authRequest{AuthRequest: a, audience: []string{a.ClientID}}
	v.Scopes = slices.DeleteFunc(slices.Clone(a.Scopes), func(sc string) bool { return sc == clientreg.AdminScope })
	if a.UserID == "" || !g.HasUser { // no user yet, or the user was deleted mid-flow: never done
		return v
	}
	v.user, v.hasUser = u, true
	// The admin scope (and the admin API audience) is granted to the tenant's admins only.
	if slices.Contains(a.Scopes, clientreg.AdminScope) && u.Role == storage.RoleAdmin && u.TenantID == a.TenantID {
		v.Scopes = a.Scopes
		if s.AdminAudience != "" {
			v.audience = append(v.audience, s.AdminAudience)
		}
	}
	verdict := mfa.DecideFor(a.Factors, mfa.Demand{TenantMFA: t.MFAEnabled, Methods: t.MFAMethods, RequestMFA: a.RequireMFA,
		RequestPHR: mfa.DemandsPHR(a.ACRValues)})
	// An issued code carries the request past its login deadline; before that, an expired request is
	// never done.
	live := s.Now().Before(a.ExpiresAt) || a.CodeHash != ""
	v.done = !u.Disabled && u.TenantID == a.TenantID && live && verdict.Satisfied
	v.amr, v.acr = verdict.AMR, verdict.ACR
	return v
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
// token its first use produced (RFC 6749 §4.1.2), also when it arrives before the first use has stored
// them: RevokeGrant marks the request's grant revoked, and the first use's tokens are then refused
// (createTokens).
func (s *Storage) AuthRequestByCode(ctx context.Context, code string) (oidcop.AuthRequest, error) {
	g, err := s.Store.ConsumeCodeGrant(ctx, secret.TokenHash(code), s.Now())
	switch {
	case errors.Is(err, storage.ErrConflict):
		if n, rerr := s.Store.RevokeGrant(ctx, g.Request.ID, s.Now()); rerr == nil {
			s.Log.WarnContext(ctx, "authorization code replayed: grant revoked", "auth_request", g.Request.ID, "revoked", n)
		}
		return nil, oidc.ErrInvalidGrant().WithDescription("the authorization code was already used")
	case err != nil:
		return nil, oidc.ErrInvalidGrant().WithDescription("the authorization code is invalid or expired")
	}
	v := s.view(g)
	if !v.done { // the factors no longer satisfy the policy (user disabled, policy changed)
		return nil, oidc.ErrInvalidGrant().WithDescription("the sign-in no longer satisfies the tenant's policy")
	}
	return v, nil
}

// DeleteAuthRequest is called after tokens were issued. Redeeming the code (AuthRequestByCode) already
// marked the request spent, in the same statement; it is kept, not deleted, so that a replayed code can
// still be traced to its tokens until the row expires.
func (s *Storage) DeleteAuthRequest(context.Context, string) error { return nil }

// Health reports whether the database answers.
func (s *Storage) Health(ctx context.Context) error { return s.Store.Ping(ctx) }

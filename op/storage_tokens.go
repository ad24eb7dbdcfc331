package op

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	oidcop "github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portcullis/portcullis/clientreg"
	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
)

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
	if err := s.createTokens(ctx, req, at, nil); err != nil {
		return "", time.Time{}, err
	}
	s.tokenIssued(req)
	return at.ID, at.ExpiresAt, nil
}

// createTokens stores new tokens. Those of a code exchange are stored only while no replay of the code
// has revoked its grant: a replay that overtook this exchange (AuthRequestByCode) found nothing to
// revoke yet, so this exchange is refused instead (RFC 6749 §4.1.2).
func (s *Storage) createTokens(ctx context.Context, req oidcop.TokenRequest, at storage.AccessToken, rt *storage.RefreshToken) error {
	var err error
	if a, ok := req.(*authRequest); ok {
		err = s.Store.CreateCodeTokens(ctx, a.ID, at, rt)
	} else {
		err = s.Store.CreateTokens(ctx, at, rt)
	}
	switch {
	case errors.Is(err, storage.ErrConflict):
		s.Log.WarnContext(ctx, "code exchange refused: a replay of the code revoked its grant, or the sign-in is gone",
			"auth_request", at.GrantID)
		return oidc.ErrInvalidGrant().WithDescription("the authorization code was already used")
	case err != nil:
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
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
		if err := s.createTokens(ctx, req, at, &rt); err != nil {
			return "", "", time.Time{}, err
		}
	} else {
		err = s.Store.RotateRefreshToken(ctx, secret.TokenHash(current), s.Now(), at, rt)
		if errors.Is(err, storage.ErrConflict) {
			s.revokeFamily(ctx, f.grantID)
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("the refresh token was already used")
		}
		if err != nil {
			return "", "", time.Time{}, oidc.ErrServerError().WithParent(err)
		}
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
	// One read: the token, its user, the tenant's policy and the client now (never cached), made at the
	// start of this request when it came through our handler (readRefreshGrant).
	hash := secret.TokenHash(token)
	g, ok := takeRefreshGrant(ctx, hash)
	if !ok {
		var err error
		if g, err = s.Store.RefreshTokenGrant(ctx, hash); err != nil {
			return nil, oidc.ErrInvalidGrant().WithDescription("invalid refresh token")
		}
	}
	rt, u, t := g.Token, g.User, g.Tenant
	now := s.Now()
	switch {
	case rt.UsedAt != nil:
		s.revokeFamily(ctx, rt.GrantID)
		return nil, oidc.ErrInvalidGrant().WithDescription("the refresh token was already used")
	case rt.RevokedAt != nil, !now.Before(rt.ExpiresAt):
		return nil, oidc.ErrInvalidGrant().WithDescription("the refresh token is revoked or expired")
	}
	if u.Disabled {
		return nil, oidc.ErrInvalidGrant().WithDescription("the user can no longer sign in")
	}
	// A refresh token is a standing sign-in: when the tenant now requires MFA and this one was made
	// without it, it yields nothing more until the user signs in again with the second factor.
	if !mfa.DecideFor(mfa.FactorsFromAMR(rt.AMR), mfa.Demand{TenantMFA: t.MFAEnabled, Methods: t.MFAMethods}).Satisfied {
		return nil, oidc.ErrInvalidGrant().WithDescription("the tenant now requires multi-factor authentication: sign in again")
	}
	// The admin scope lasts only while the client is an admin client: a client that is no longer one
	// keeps its refresh token, without the admin API.
	if !g.Client.Admin && slices.Contains(rt.Scopes, clientreg.AdminScope) {
		rt.Scopes = slices.DeleteFunc(slices.Clone(rt.Scopes), func(sc string) bool { return sc == clientreg.AdminScope })
		rt.Audience = slices.DeleteFunc(slices.Clone(rt.Audience), func(a string) bool { return a == s.AdminAudience })
	}
	return &refreshRequest{rt: rt, user: u}, nil
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

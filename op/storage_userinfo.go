package op

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	oidcop "github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portcullis/portcullis/storage"
)

// SetUserinfoFromScopes is deprecated in the library; SetUserinfoFromRequest does the work.
func (s *Storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's user claims.
func (s *Storage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req oidcop.IDTokenRequest, scopes []string) error {
	if a, ok := req.(*authRequest); ok && a.hasUser && a.user.ID == req.GetSubject() {
		// The code exchange read the user with the request moments ago, in this request.
		return userinfoOf(ui, a.user, scopes)
	}
	r, refresh := req.(*refreshRequest)
	if !refresh {
		return s.setUserinfo(ctx, ui, req.GetSubject(), scopes)
	}
	// The refresh grant read the user with the token moments ago, in this request.
	if err := userinfoOf(ui, r.user, scopes); err != nil {
		return err
	}
	if r.rt.ACR != "" {
		ui.AppendClaims("acr", r.rt.ACR) // the library drops acr on refresh; registered claims still win
	}
	return nil
}

// SetUserinfoFromToken is the library's userinfo answer for a live, unrevoked access token. The provider
// handler serves /userinfo itself (userinfo.go) with the same checks; this stays for the storage contract.
func (s *Storage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, _ string) error {
	// One read of the token row and its user, every call: revocation and a disabled user count at once.
	at, u, err := s.Store.AccessTokenWithUser(ctx, tokenID)
	if err != nil || at.Subject != subject || at.RevokedAt != nil || !s.Now().Before(at.ExpiresAt) {
		return errors.New("invalid token") // also a service token, which has no user
	}
	return userinfoOf(ui, u, at.Scopes)
}

func (s *Storage) setUserinfo(ctx context.Context, ui *oidc.UserInfo, subject string, scopes []string) error {
	u, err := s.Store.UserByID(ctx, subject)
	if err != nil {
		return fmt.Errorf("userinfo: %w", err)
	}
	return userinfoOf(ui, u, scopes)
}

// userinfoOf fills the user claims the scopes grant; a disabled user has none. userinfoClaimsOf
// (userinfo.go) releases the same for /userinfo (a test holds them equal).
func userinfoOf(ui *oidc.UserInfo, u storage.User, scopes []string) error {
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
	caller, err := s.clientByID(ctx, clientID)
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

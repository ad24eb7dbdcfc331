package op

import (
	"net/url"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	oidcop "github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portcullis/portcullis/clientreg"
	"github.com/portcullis/portcullis/storage"
)

// client adapts a stored client to what the provider library asks of it.
type client struct {
	c        storage.Client
	loginURL func(authRequestID string) string
	idTTL    time.Duration
}

var _ oidcop.Client = (*client)(nil)

func (c *client) GetID() string                    { return c.c.ID }
func (c *client) RedirectURIs() []string           { return c.c.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.c.PostLogoutURIs }
func (c *client) LoginURL(id string) string        { return c.loginURL(id) }
func (c *client) AccessTokenType() oidcop.AccessTokenType {
	return oidcop.AccessTokenTypeJWT
}
func (c *client) IDTokenLifetime() time.Duration { return c.idTTL }
func (c *client) DevMode() bool                  { return false }
func (c *client) ClockSkew() time.Duration       { return 0 }

// IDTokenUserinfoClaimsAssertion puts email, name and the tenant into the ID token even when an access
// token is issued: apps read who signed in from the ID token alone.
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }

// ApplicationType: public clients are native/browser apps (loopback redirects on any port, RFC 8252).
func (c *client) ApplicationType() oidcop.ApplicationType {
	if c.c.Public {
		return oidcop.ApplicationTypeNative
	}
	return oidcop.ApplicationTypeWeb
}

func (c *client) AuthMethod() oidc.AuthMethod {
	if c.c.Public {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic // client_secret_post is accepted too (Config.AuthMethodPost)
}

func (c *client) ResponseTypes() []oidc.ResponseType {
	// Every type is listed so that the library lets the request through to CreateAuthRequest, which
	// answers the ones we do not offer with unsupported_response_type (RFC 6749 §4.1.2.1).
	if c.c.HasGrant(clientreg.GrantAuthorizationCode) {
		return []oidc.ResponseType{oidc.ResponseTypeCode, oidc.ResponseTypeIDToken, oidc.ResponseTypeIDTokenOnly}
	}
	return nil
}

func (c *client) GrantTypes() []oidc.GrantType {
	var out []oidc.GrantType
	for _, g := range c.c.Grants {
		switch g {
		case clientreg.GrantAuthorizationCode:
			out = append(out, oidc.GrantTypeCode)
		case clientreg.GrantRefreshToken:
			out = append(out, oidc.GrantTypeRefreshToken)
		case clientreg.GrantClientCredentials:
			out = append(out, oidc.GrantTypeClientCredentials)
		}
	}
	return out
}

func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// IsScopeAllowed admits the extra (non-OIDC) scopes registered for the client.
func (c *client) IsScopeAllowed(scope string) bool {
	if scope == clientreg.AdminScope {
		return c.c.Admin // asked for through an admin client; granted at sign-in to the tenant's admins only
	}
	for _, s := range c.c.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// loopbackRedirectMatches reports whether a loopback redirect URI equals one of the registered ones
// except for the port: a native app listens on whatever port is free (RFC 8252 §7.3), but scheme, host
// (127.0.0.1, [::1] and localhost are different hosts), path and query must be the registered ones.
func loopbackRedirectMatches(registered []string, redirectURI string) bool {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return false
	}
	for _, reg := range registered {
		if reg == redirectURI {
			return true
		}
		r, err := url.Parse(reg)
		if err != nil {
			continue
		}
		if r.Scheme == u.Scheme && strings.EqualFold(r.Hostname(), u.Hostname()) && r.User.String() == u.User.String() &&
			r.Path == u.Path && r.RawPath == u.RawPath && r.RawQuery == u.RawQuery && r.ForceQuery == u.ForceQuery &&
			r.Fragment == u.Fragment && r.Opaque == u.Opaque {
			return true
		}
	}
	return false
}

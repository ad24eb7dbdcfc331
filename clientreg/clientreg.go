// Package clientreg owns the rules of an OIDC client registration that the provider (op), the
// tenant-admin service, the admin API and the CLI share: the grant names, the admin API scope and the
// validation of a registration. It imports only storage (for the record it checks) and the standard
// library; op and admin both import it, so neither needs the other.
package clientreg

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/portcullis/portcullis/storage"
)

// Grant types a client may be registered for.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// AdminScope is the scope a token needs for the admin API. The provider grants it through admin clients
// only: to the client itself (client_credentials) or to a tenant admin who signs in through it. Any
// other app that asks for it does not get it, so an app of the tenant cannot act as its admins.
const AdminScope = "portcullis:admin"

// DefaultGrants are the grants of a client registered without any: a web app that signs users in and
// keeps them signed in.
func DefaultGrants() []string { return []string{GrantAuthorizationCode, GrantRefreshToken} }

// ValidateClient checks a client registration: known grants, redirect URIs that are absolute, without
// fragment, and https except on loopback hosts (native and local apps, RFC 8252), scopes that are scope
// tokens (RFC 6749 §3.3), and the combinations that make sense. No item of a list holds whitespace: the
// lists are stored with their items joined by spaces. It reports every problem at once.
func ValidateClient(c storage.Client) error {
	var errs []error
	if c.Name == "" || len(c.Name) > 200 {
		errs = append(errs, errors.New("name: required, at most 200 characters"))
	}
	for _, g := range c.Grants {
		if !slices.Contains([]string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials}, g) {
			errs = append(errs, fmt.Errorf("grant %q: must be authorization_code, refresh_token or client_credentials", g))
		}
	}
	if len(c.Grants) == 0 {
		errs = append(errs, errors.New("grants: at least one is required"))
	}
	if c.HasGrant(GrantAuthorizationCode) && len(c.RedirectURIs) == 0 {
		errs = append(errs, errors.New("redirect_uris: required for authorization_code"))
	}
	if c.HasGrant(GrantRefreshToken) && !c.HasGrant(GrantAuthorizationCode) {
		errs = append(errs, errors.New("grants: refresh_token needs authorization_code"))
	}
	if c.Public && (c.HasGrant(GrantClientCredentials) || c.Admin) {
		errs = append(errs, errors.New("a public client cannot use client_credentials or be an admin client"))
	}
	if c.Admin && !c.HasGrant(GrantClientCredentials) && !c.HasGrant(GrantAuthorizationCode) {
		errs = append(errs, errors.New("an admin client needs the client_credentials or the authorization_code grant"))
	}
	if !slices.Contains([]string{"", "RS256", "ES256"}, c.IDTokenAlg) {
		errs = append(errs, fmt.Errorf("id_token_signed_response_alg %q: must be RS256 or ES256", c.IDTokenAlg))
	}
	for _, u := range c.RedirectURIs {
		if err := ValidateRedirectURI(u); err != nil {
			errs = append(errs, fmt.Errorf("redirect_uri %q: %w", u, err))
		}
	}
	for _, u := range c.PostLogoutURIs {
		if err := ValidateRedirectURI(u); err != nil {
			errs = append(errs, fmt.Errorf("post_logout_redirect_uri %q: %w", u, err))
		}
	}
	for _, s := range c.Scopes {
		if err := ValidateScope(s); err != nil {
			errs = append(errs, fmt.Errorf("scope %q: %w", s, err))
		}
	}
	return errors.Join(errs...)
}

// ValidateRedirectURI accepts absolute https URIs, and http on loopback hosts, without fragment, and
// without whitespace or control characters: url.Parse lets a space through, and a URI with one would be
// stored as two URIs ("https://app.example/cb http://evil.example/"), the second never checked.
func ValidateRedirectURI(raw string) error {
	if strings.IndexFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return errors.New("must not contain whitespace or control characters (percent-encode them)")
	}
	if !utf8.ValidString(raw) {
		return errors.New("must be valid UTF-8")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		return errors.New("must be an absolute URL")
	case u.Fragment != "" || u.RawFragment != "":
		return errors.New("must not have a fragment")
	case u.User != nil:
		return errors.New("must not carry credentials")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	default:
		return errors.New("must use https (http is allowed only on 127.0.0.1, [::1] or localhost)")
	}
}

// ValidateScope accepts a scope token (RFC 6749 §3.3): one or more printable ASCII characters other
// than space, double quote and backslash.
func ValidateScope(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == '"' || c == '\\' {
			return errors.New("must be one scope token: printable ASCII without spaces, quotes or backslashes")
		}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

package op

import (
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	oidcop "github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portcullis/portcullis/storage"
)

// authRequest is the provider's read model of a stored auth request. done, amr and acr are computed
// when it is loaded, from the recorded factors against the tenant's policy at that moment
// (STYLE rule 18); no handler can set them.
type authRequest struct {
	storage.AuthRequest
	done     bool
	amr      []string
	acr      string
	audience []string
	user     storage.User // read with the request in this request; fills the ID token's user claims
	hasUser  bool
}

var _ oidcop.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string          { return a.ID }
func (a *authRequest) GetACR() string         { return a.acr }
func (a *authRequest) GetAMR() []string       { return a.amr }
func (a *authRequest) GetAudience() []string  { return a.audience }
func (a *authRequest) GetAuthTime() time.Time { return a.AuthTime }
func (a *authRequest) GetClientID() string    { return a.ClientID }
func (a *authRequest) GetNonce() string       { return a.Nonce }
func (a *authRequest) GetRedirectURI() string { return a.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType {
	return oidc.ResponseType(a.ResponseType)
}
func (a *authRequest) GetResponseMode() oidc.ResponseMode {
	return oidc.ResponseMode(a.ResponseMode)
}
func (a *authRequest) GetScopes() []string { return a.Scopes }
func (a *authRequest) GetState() string    { return a.State }
func (a *authRequest) GetSubject() string  { return a.UserID }
func (a *authRequest) Done() bool          { return a.done }

func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.CodeChallenge, Method: oidc.CodeChallengeMethod(a.CodeChallengeMethod)}
}

// tokenFacts is what every kind of token request carries into our tokens.
type tokenFacts struct {
	grantID  string
	tenantID string
	clientID string
	subject  string
	scopes   []string
	audience []string
	amr      []string
	acr      string
	authTime time.Time
}

type factsCarrier interface{ facts() tokenFacts }

func (a *authRequest) facts() tokenFacts {
	return tokenFacts{grantID: a.ID, tenantID: a.TenantID, clientID: a.ClientID, subject: a.UserID, scopes: a.Scopes,
		audience: a.audience, amr: a.amr, acr: a.acr, authTime: a.AuthTime}
}

// refreshRequest is a stored refresh token seen as a token request. It is a fresh copy per call,
// because the library narrows its scopes in place.
type refreshRequest struct {
	rt   storage.RefreshToken
	user storage.User // read with the token in this request; fills the ID token's user claims
}

var _ oidcop.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string            { return r.rt.AMR }
func (r *refreshRequest) GetAudience() []string       { return r.rt.Audience }
func (r *refreshRequest) GetAuthTime() time.Time      { return r.rt.AuthTime }
func (r *refreshRequest) GetClientID() string         { return r.rt.ClientID }
func (r *refreshRequest) GetScopes() []string         { return r.rt.Scopes }
func (r *refreshRequest) GetSubject() string          { return r.rt.Subject }
func (r *refreshRequest) SetCurrentScopes(s []string) { r.rt.Scopes = s }

func (r *refreshRequest) facts() tokenFacts {
	return tokenFacts{grantID: r.rt.GrantID, tenantID: r.rt.TenantID, clientID: r.rt.ClientID, subject: r.rt.Subject,
		scopes: r.rt.Scopes, audience: r.rt.Audience, amr: r.rt.AMR, acr: r.rt.ACR, authTime: r.rt.AuthTime}
}

// serviceRequest is a client_credentials grant: the client acts for itself.
type serviceRequest struct {
	client   storage.Client
	scopes   []string
	audience []string
	grantID  string
}

func (s *serviceRequest) GetSubject() string    { return s.client.ID }
func (s *serviceRequest) GetAudience() []string { return s.audience }
func (s *serviceRequest) GetScopes() []string   { return s.scopes }

func (s *serviceRequest) facts() tokenFacts {
	return tokenFacts{grantID: s.grantID, tenantID: s.client.TenantID, clientID: s.client.ID, subject: s.client.ID,
		scopes: s.scopes, audience: s.audience}
}

package op

import (
	"context"
	"errors"
	"slices"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	oidcop "github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portcullis/portcullis/clientreg"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
)

// GetClientByClientID loads a client. Unknown clients are a plain error, faults a server error.
func (s *Storage) GetClientByClientID(ctx context.Context, id string) (oidcop.Client, error) {
	c, err := s.clientByID(ctx, id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, errors.New("unknown client")
	case err != nil:
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return &client{c: c, loginURL: s.LoginURL, idTTL: s.IDTokenTTL}, nil
}

// Hasher runs argon2id verifications within bounds; *secret.Hasher implements it.
type Hasher interface {
	Verify(ctx context.Context, encoded, pw string) (bool, error)
}

// errBusy is a client authentication that could not run: its argon2id verification found no slot in
// time (secret.ErrBusy). The handler answers 503 with Retry-After; the library, a server error.
var errBusy = oidc.ErrServerError().WithDescription("too many client authentications at once").WithParent(secret.ErrBusy)

// AuthorizeClientIDSecret checks a confidential client's secret (keyed hash, constant time). An
// unknown client is a plain error (the caller answers invalid_client), a database fault a server error.
// A secret hashed before the current scheme (argon2id) is verified within the Hasher's bounds (errBusy
// when it has no slot), and its hash is replaced by the current scheme's on its first successful use.
func (s *Storage) AuthorizeClientIDSecret(ctx context.Context, id, sec string) error {
	c, err := s.clientByID(ctx, id)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return oidc.ErrServerError().WithParent(err)
	}
	if err != nil || c.Public || c.SecretHash == "" {
		return errors.New("invalid client credentials")
	}
	if !secret.ClientSecretHashCurrent(c.SecretHash) {
		return s.authorizeLegacySecret(ctx, c, sec)
	}
	if !secret.VerifyClientSecret(c.SecretHash, sec) {
		return errors.New("invalid client credentials")
	}
	return nil
}

// authorizeLegacySecret verifies a secret against a legacy argon2id hash through the Hasher, once per
// request (our client authentication check and the library's then share the verdict), and on success
// stores the current scheme's hash in its place, compare-and-set on the hash it read.
func (s *Storage) authorizeLegacySecret(ctx context.Context, c storage.Client, sec string) error {
	ok, seen := legacyVerdict(ctx, c, sec)
	if !seen {
		var h Hasher = (*secret.Hasher)(nil) // no bounds
		if s.Hasher != nil {
			h = s.Hasher
		}
		var err error
		ok, err = h.Verify(ctx, c.SecretHash, sec)
		switch {
		case errors.Is(err, secret.ErrBusy):
			return errBusy
		case err != nil: // a malformed hash: no secret matches it
			ok = false
		}
		keepLegacyVerdict(ctx, c, sec, ok)
	}
	if !ok {
		return errors.New("invalid client credentials")
	}
	if seen {
		return nil
	}
	upgraded := secret.HashClientSecret(sec)
	switch err := s.Store.UpgradeClientSecretHash(ctx, c.ID, c.SecretHash, upgraded); {
	case errors.Is(err, storage.ErrConflict): // changed meanwhile (a new secret, or another instance's upgrade)
	case err != nil:
		s.Log.WarnContext(ctx, "upgrade client secret hash", "client", c.ID, "err", err)
	default:
		s.Log.InfoContext(ctx, "client secret hash upgraded to the current scheme", "client", c.ID)
		c.SecretHash = upgraded
		keepClient(ctx, c) // this request's later checks take the fast path
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
	c, err := s.clientByID(ctx, id)
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

// GetKeyByIDAndClientID: private_key_jwt and the JWT-profile grant are not offered.
func (s *Storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("private_key_jwt is not supported")
}

// ValidateJWTProfileScopes: the JWT-profile grant is not offered.
func (s *Storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("the jwt-bearer grant is not supported")
}

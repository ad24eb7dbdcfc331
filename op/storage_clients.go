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

// AuthorizeClientIDSecret checks a confidential client's secret (keyed hash, constant time). An
// unknown client is a plain error (the caller answers invalid_client), a database fault a server error.
func (s *Storage) AuthorizeClientIDSecret(ctx context.Context, id, sec string) error {
	c, err := s.clientByID(ctx, id)
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

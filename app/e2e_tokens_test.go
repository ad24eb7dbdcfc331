package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/clientreg"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// Userinfo releases claims by scope: email only with the email scope, name only with profile.
func TestUserinfoByScope(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		for _, tc := range []struct {
			name      string
			scopes    []string
			wantEmail bool
			wantName  bool
		}{
			{"openid only", []string{"openid"}, false, false},
			{"email", []string{"openid", "email"}, true, false},
			{"profile", []string{"openid", "profile"}, false, true},
			{"email and profile", []string{"openid", "email", "profile"}, true, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				rp := o.env.RP(o.client, o.secret, tc.scopes...)
				_, tok := o.signIn(t, rp, o.env.NewBrowser())
				r := userinfo(t, o.env, tok.AccessToken)
				if r.Status != http.StatusOK {
					t.Fatalf("userinfo: %d %s", r.Status, r.Body)
				}
				m := r.JSON(t)
				if m["sub"] != o.user.ID || m["tenant"] != o.ten.ID {
					t.Errorf("sub %v tenant %v", m["sub"], m["tenant"])
				}
				_, hasEmail := m["email"]
				_, hasVerified := m["email_verified"]
				_, hasName := m["name"]
				if hasEmail != tc.wantEmail || hasVerified != tc.wantEmail || hasName != tc.wantName {
					t.Errorf("userinfo %v: email %t (want %t), name %t (want %t)", m, hasEmail, tc.wantEmail, hasName, tc.wantName)
				}
				if tc.wantEmail && m["email"] != o.user.Email {
					t.Errorf("email %v", m["email"])
				}
				if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("userinfo Cache-Control %q", cc)
				}
			})
		}
		t.Run("no token", func(t *testing.T) {
			r := get(t, o.env.URL+userinfoPath, nil)
			if ch := r.Header.Get("WWW-Authenticate"); r.Status != http.StatusUnauthorized || !strings.HasPrefix(ch, "Bearer") || strings.Contains(ch, "error=") {
				t.Errorf("userinfo without a token: %d, WWW-Authenticate %q", r.Status, ch)
			}
		})
		t.Run("garbage token", func(t *testing.T) {
			wantBearerInvalid(t, "userinfo with a garbage token", userinfo(t, o.env, "not.a.token"))
		})
		t.Run("expired token", func(t *testing.T) {
			_, tok := o.signIn(t, o.rp, o.env.NewBrowser())
			o.env.Clock.Advance(o.env.App.Config.AccessTokenTTL.Duration + time.Minute)
			wantBearerInvalid(t, "userinfo with an expired token", userinfo(t, o.env, tok.AccessToken))
		})
	})
}

// Introspection of access and refresh tokens by a confidential client of the same tenant; a client
// of another tenant learns nothing.
func TestIntrospection(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st, "openid", "email", "offline_access")
		_, tok := o.signIn(t, o.rp, o.env.NewBrowser())
		api, apiSecret := o.env.Client(o.ten.ID, apptest.ClientOptions{Grants: []string{clientreg.GrantClientCredentials}})
		other := o.env.Tenant("Other")
		stranger, strangerSecret := o.env.Client(other.ID, apptest.ClientOptions{})
		for _, tc := range []struct {
			name           string
			token          string
			caller, secret string
			wantActive     bool
		}{
			{"access token, by its client", tok.AccessToken, o.client.ID, o.secret, true},
			{"access token, by a resource server of the tenant", tok.AccessToken, api.ID, apiSecret, true},
			{"refresh token, by its client", tok.RefreshToken, o.client.ID, o.secret, true},
			{"access token, by a client of another tenant", tok.AccessToken, stranger.ID, strangerSecret, false},
			{"refresh token, by a client of another tenant", tok.RefreshToken, stranger.ID, strangerSecret, false},
			{"garbage", "garbage", o.client.ID, o.secret, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				m := introspect(t, o.env, tc.caller, tc.secret, tc.token)
				if active(m) != tc.wantActive {
					t.Fatalf("active %v, want %t: %v", m["active"], tc.wantActive, m)
				}
				if !tc.wantActive {
					if len(m) != 1 {
						t.Errorf("an inactive answer says more than active=false: %v", m)
					}
					return
				}
				scope, _ := m["scope"].(string)
				if m["sub"] != o.user.ID || m["client_id"] != o.client.ID || m["tenant"] != o.ten.ID ||
					!slices.Contains(strings.Fields(scope), "email") || m["iss"] != o.env.URL {
					t.Errorf("introspection %v", m)
				}
				if amr, _ := m["amr"].([]any); len(amr) != 1 || amr[0] != "pwd" || m["acr"] != "urn:portcullis:acr:pwd" || m["auth_time"] == nil {
					t.Errorf("introspection amr %v acr %v auth_time %v", m["amr"], m["acr"], m["auth_time"])
				}
			})
		}
		t.Run("without client authentication", func(t *testing.T) {
			r := postForm(t, o.env.URL, introspectPath, url.Values{"token": {tok.AccessToken}}, "", "")
			if r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("introspection without credentials: %d %q", r.Status, r.Header.Get("WWW-Authenticate"))
			}
		})
		t.Run("wrong client secret", func(t *testing.T) {
			r := postForm(t, o.env.URL, introspectPath, url.Values{"token": {tok.AccessToken}}, o.client.ID, "wrong")
			if r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("introspection with a wrong secret: %d %q", r.Status, r.Header.Get("WWW-Authenticate"))
			}
		})
	})
}

// Revocation (RFC 7009): an access token alone, a refresh token with its grant, unknown tokens.
func TestRevocation(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st, "openid", "email", "offline_access")
		refreshFails := func(t *testing.T, rt string) {
			t.Helper()
			_, err := o.rp.OAuth.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt}).Token()
			if code, _ := retrieveError(t, err); code != "invalid_grant" {
				t.Errorf("refresh after revocation: %s, want invalid_grant", code)
			}
		}
		t.Run("access token", func(t *testing.T) {
			_, tok := o.signIn(t, o.rp, o.env.NewBrowser())
			if r := revoke(t, o.env, o.client.ID, o.secret, tok.AccessToken, "access_token"); r.Status != http.StatusOK {
				t.Fatalf("revoke: %d %s", r.Status, r.Body)
			}
			wantBearerInvalid(t, "userinfo with a revoked token", userinfo(t, o.env, tok.AccessToken))
			if m := introspect(t, o.env, o.client.ID, o.secret, tok.AccessToken); active(m) {
				t.Errorf("revoked access token introspects active: %v", m)
			}
			// Revoking the access token leaves the refresh token alone.
			if _, err := o.rp.OAuth.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
				t.Errorf("refresh after revoking only the access token: %v", err)
			}
		})
		for _, hint := range []string{"refresh_token", ""} {
			t.Run("refresh token, hint "+hint, func(t *testing.T) {
				_, tok := o.signIn(t, o.rp, o.env.NewBrowser())
				if r := revoke(t, o.env, o.client.ID, o.secret, tok.RefreshToken, hint); r.Status != http.StatusOK {
					t.Fatalf("revoke: %d %s", r.Status, r.Body)
				}
				refreshFails(t, tok.RefreshToken)
				wantBearerInvalid(t, "userinfo with the grant's access token", userinfo(t, o.env, tok.AccessToken))
				if m := introspect(t, o.env, o.client.ID, o.secret, tok.AccessToken); active(m) {
					t.Errorf("the grant's access token introspects active: %v", m)
				}
			})
		}
		t.Run("refresh token, form authentication", func(t *testing.T) {
			_, tok := o.signIn(t, o.rp, o.env.NewBrowser())
			r := postForm(t, o.env.URL, revokePath, url.Values{"token": {tok.RefreshToken}, "client_id": {o.client.ID},
				"client_secret": {o.secret}}, "", "")
			if r.Status != http.StatusOK {
				t.Fatalf("revoke: %d %s", r.Status, r.Body)
			}
			refreshFails(t, tok.RefreshToken)
		})
		t.Run("unknown token", func(t *testing.T) {
			for _, hint := range []string{"", "access_token", "refresh_token"} {
				if r := revoke(t, o.env, o.client.ID, o.secret, "no-such-token", hint); r.Status != http.StatusOK {
					t.Errorf("revoke an unknown token (hint %q): %d %s", hint, r.Status, r.Body)
				}
			}
		})
		t.Run("another client's tokens stay", func(t *testing.T) {
			_, tok := o.signIn(t, o.rp, o.env.NewBrowser())
			other, otherSecret := o.env.Client(o.ten.ID, apptest.ClientOptions{})
			for _, tk := range []string{tok.AccessToken, tok.RefreshToken} {
				// The caller authenticated fine, so this is not invalid_client (RFC 6749 §5.2, RFC 7009 §2.1).
				r := revoke(t, o.env, other.ID, otherSecret, tk, "")
				if r.Status != http.StatusBadRequest || r.OAuthError() != "unauthorized_client" {
					t.Errorf("revoke another client's token: %d %s", r.Status, r.Body)
				}
				if m := introspect(t, o.env, o.client.ID, o.secret, tk); !active(m) {
					t.Errorf("another client revoked a token: %v", m)
				}
			}
		})
		t.Run("wrong client secret", func(t *testing.T) {
			_, tok := o.signIn(t, o.rp, o.env.NewBrowser())
			r := revoke(t, o.env, o.client.ID, "wrong", tok.AccessToken, "")
			if r.Status != http.StatusUnauthorized || r.OAuthError() != "invalid_client" || r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("revoke with a wrong secret: %d %s %q", r.Status, r.Body, r.Header.Get("WWW-Authenticate"))
			}
			if m := introspect(t, o.env, o.client.ID, o.secret, tok.AccessToken); !active(m) {
				t.Errorf("a revocation with a wrong secret revoked the token")
			}
		})
	})
}

// client_credentials: a service client gets a token for itself; other clients may not use the grant.
func TestClientCredentials(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		svc, svcSecret := o.env.Client(o.ten.ID, apptest.ClientOptions{Grants: []string{clientreg.GrantClientCredentials},
			ExtraScopes: []string{"reports:read"}})
		cc := clientcredentials.Config{ClientID: svc.ID, ClientSecret: svcSecret, TokenURL: o.env.URL + tokenPath,
			Scopes: []string{"reports:read", "reports:write"}}
		tok, err := cc.Token(context.Background())
		if err != nil {
			t.Fatalf("client_credentials: %v", err)
		}
		if tok.RefreshToken != "" || tok.Extra("id_token") != nil {
			t.Errorf("client_credentials issued a refresh or ID token")
		}
		m := introspect(t, o.env, svc.ID, svcSecret, tok.AccessToken)
		if !active(m) || m["sub"] != svc.ID || m["client_id"] != svc.ID || m["tenant"] != o.ten.ID || m["scope"] != "reports:read" {
			t.Errorf("introspection of the service token: %v", m)
		}
		if _, ok := m["amr"]; ok {
			t.Errorf("a service token has amr: %v", m)
		}
		if r := userinfo(t, o.env, tok.AccessToken); r.Status != http.StatusUnauthorized {
			t.Errorf("userinfo with a service token: %d %s", r.Status, r.Body)
		}

		for _, tc := range []struct {
			name           string
			client, secret string
			wantStatus     int
			wantErrors     []string
		}{
			{"client without the grant", o.client.ID, o.secret, http.StatusBadRequest, []string{"unauthorized_client", "unsupported_grant_type"}},
			{"wrong secret", svc.ID, "wrong", http.StatusUnauthorized, []string{"invalid_client"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := postForm(t, o.env.URL, tokenPath, url.Values{"grant_type": {"client_credentials"}}, tc.client, tc.secret)
				if r.Status != tc.wantStatus || !slices.Contains(tc.wantErrors, r.OAuthError()) {
					t.Errorf("got %d %s, want %d %v", r.Status, r.Body, tc.wantStatus, tc.wantErrors)
				}
			})
		}
	})
}

// Access tokens are JWTs (RFC 9068 style) that a resource server verifies with the JWKS alone.
func TestJWTAccessTokenClaims(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st, "openid", "email")
		_, userTok := o.signIn(t, o.rp, o.env.NewBrowser())
		svc, svcSecret := o.env.Client(o.ten.ID, apptest.ClientOptions{Grants: []string{clientreg.GrantClientCredentials},
			ExtraScopes: []string{"reports:read"}})
		svcTok, err := (&clientcredentials.Config{ClientID: svc.ID, ClientSecret: svcSecret, TokenURL: o.env.URL + tokenPath,
			Scopes: []string{"reports:read"}}).Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name      string
			token     string
			wantSub   string
			wantAud   string
			wantScope string
			user      bool
		}{
			{"user token", userTok.AccessToken, o.user.ID, o.client.ID, "openid email", true},
			{"service token", svcTok.AccessToken, svc.ID, svc.ID, "reports:read", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := verifyJWT(t, o.env, tc.token)
				now := o.env.Clock.Now().Unix()
				if c["iss"] != o.env.URL || c["sub"] != tc.wantSub || c["tenant"] != o.ten.ID || c["scope"] != tc.wantScope {
					t.Errorf("claims %v", c)
				}
				if aud := audience(c["aud"]); !slices.Contains(aud, tc.wantAud) {
					t.Errorf("aud %v, want it to contain %s", c["aud"], tc.wantAud)
				}
				if exp, _ := c["exp"].(float64); int64(exp) <= now || int64(exp) > now+int64(o.env.App.Config.AccessTokenTTL.Seconds())+5 {
					t.Errorf("exp %v, now %d", c["exp"], now)
				}
				if jti, _ := c["jti"].(string); jti == "" {
					t.Errorf("no jti")
				}
				_, hasAMR := c["amr"]
				_, hasACR := c["acr"]
				_, hasAuthTime := c["auth_time"]
				if hasAMR != tc.user || hasACR != tc.user || hasAuthTime != tc.user {
					t.Errorf("amr %v acr %v auth_time %v (user token: %t)", c["amr"], c["acr"], c["auth_time"], tc.user)
				}
				if tc.user {
					if amr, _ := c["amr"].([]any); len(amr) != 1 || amr[0] != "pwd" || c["acr"] != "urn:portcullis:acr:pwd" {
						t.Errorf("amr %v acr %v", c["amr"], c["acr"])
					}
					if at, _ := c["auth_time"].(float64); int64(at) > now || int64(at) < now-60 {
						t.Errorf("auth_time %v, now %d", c["auth_time"], now)
					}
				}
			})
		}
	})
}

// verifyJWT checks the signature of a JWT against the provider's JWKS, accepting only the algorithms
// we sign with, and returns its claims.
func verifyJWT(t *testing.T, env *apptest.Env, raw string) map[string]any {
	t.Helper()
	r := get(t, env.URL+keysPath, nil)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(r.Body), &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("JWKS: %v %s", err, r.Body)
	}
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("parse JWT: %v", err)
	}
	if len(jws.Signatures) != 1 {
		t.Fatalf("%d signatures", len(jws.Signatures))
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q: %d keys in the JWKS", jws.Signatures[0].Header.KeyID, len(keys))
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("verify JWT: %v", err)
	}
	if typ, _ := jws.Signatures[0].Header.ExtraHeaders["typ"].(string); typ == "" {
		t.Errorf("no typ header")
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func audience(v any) []string {
	switch a := v.(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, s := range a {
			if s, ok := s.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

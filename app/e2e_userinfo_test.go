package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/app"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// Userinfo refuses, with 401 invalid_token, every token it must not honour, also right after the same
// token was honoured (the endpoint remembers verified signatures, never whether access is allowed).
func TestUserinfoRefusals(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st, "openid", "email", "profile", "offline_access")
		ctx := context.Background()
		// fresh signs in a user of its own and checks that userinfo honours the token once.
		n := 0
		fresh := func(t *testing.T) (storage.User, *oauth2.Token) {
			t.Helper()
			n++
			u := o.env.User(o.ten.ID, "user"+string(rune('a'+n))+"@acme.test", pw, storage.RoleMember)
			a, code := o.rp.SignIn(o.env.NewBrowser(), u.Email, pw)
			tok, err := o.rp.Exchange(code, a)
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if r := userinfo(t, o.env, tok.AccessToken); r.Status != http.StatusOK || r.JSON(t)["sub"] != u.ID {
				t.Fatalf("userinfo before: %d %s", r.Status, r.Body)
			}
			return u, tok
		}

		t.Run("revoked after use", func(t *testing.T) {
			_, tok := fresh(t)
			if r := revoke(t, o.env, o.client.ID, o.secret, tok.AccessToken, "access_token"); r.Status != http.StatusOK {
				t.Fatalf("revoke: %d %s", r.Status, r.Body)
			}
			wantBearerInvalid(t, "revoked token", userinfo(t, o.env, tok.AccessToken))
		})
		t.Run("grant revoked after use", func(t *testing.T) {
			_, tok := fresh(t)
			if r := revoke(t, o.env, o.client.ID, o.secret, tok.RefreshToken, "refresh_token"); r.Status != http.StatusOK {
				t.Fatalf("revoke: %d %s", r.Status, r.Body)
			}
			wantBearerInvalid(t, "token of a revoked grant", userinfo(t, o.env, tok.AccessToken))
		})
		t.Run("user disabled after use", func(t *testing.T) {
			// Disabled in the database alone (the admin surfaces also revoke the tokens): the user's state
			// is read on every call.
			u, tok := fresh(t)
			if _, err := st.UpdateUser(ctx, u.ID, func(u *storage.User) error { u.Disabled = true; return nil }); err != nil {
				t.Fatal(err)
			}
			wantBearerInvalid(t, "disabled user's token", userinfo(t, o.env, tok.AccessToken))
			if _, err := st.UpdateUser(ctx, u.ID, func(u *storage.User) error { u.Disabled = false; return nil }); err != nil {
				t.Fatal(err)
			}
			if r := userinfo(t, o.env, tok.AccessToken); r.Status != http.StatusOK {
				t.Errorf("enabled again: %d %s", r.Status, r.Body)
			}
		})
		t.Run("user deleted after use", func(t *testing.T) {
			u, tok := fresh(t)
			if err := st.DeleteUser(ctx, u.ID, o.env.Clock.Now()); err != nil {
				t.Fatal(err)
			}
			wantBearerInvalid(t, "deleted user's token", userinfo(t, o.env, tok.AccessToken))
		})
		t.Run("refused on another instance at once", func(t *testing.T) {
			_, tok := fresh(t)
			other := o.env.Second(func(c *app.Config) { c.Issuer = o.env.URL })
			if r := userinfo(t, other, tok.AccessToken); r.Status != http.StatusOK {
				t.Fatalf("userinfo on the second instance: %d %s", r.Status, r.Body)
			}
			if r := revoke(t, o.env, o.client.ID, o.secret, tok.AccessToken, ""); r.Status != http.StatusOK {
				t.Fatalf("revoke: %d %s", r.Status, r.Body)
			}
			wantBearerInvalid(t, "revoked on the first instance, used on the second", userinfo(t, other, tok.AccessToken))
		})

		_, tok := fresh(t)
		claims := jwtClaims(t, tok.AccessToken)
		kid := jwtHeader(t, tok.AccessToken)["kid"].(string)
		sk, err := o.env.App.Keys.SigningKeyFor(ctx, jose.RS256)
		if err != nil {
			t.Fatal(err)
		}
		other, _ := rsa.GenerateKey(rand.Reader, 2048)
		ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		with := func(k string, v any) map[string]any {
			m := map[string]any{}
			for kk, vv := range claims {
				m[kk] = vv
			}
			m[k] = v
			return m
		}
		payload, _ := json.Marshal(claims)
		b64 := base64.RawURLEncoding.EncodeToString
		parts := strings.Split(tok.AccessToken, ".")
		tamperedPayload, _ := json.Marshal(with("scope", "openid email profile admin"))
		for _, tc := range []struct {
			name, token string
		}{
			{"garbage", "not.a.token"},
			{"another issuer", signJWT(t, sk.Key(), jose.RS256, sk.ID(), with("iss", "https://other.example"))},
			{"alg none", b64([]byte(`{"alg":"none","kid":"`+kid+`"}`)) + "." + b64(payload) + "."},
			{"unknown kid", signJWT(t, sk.Key(), jose.RS256, "no-such-key", claims)},
			{"no kid", signJWT(t, sk.Key(), jose.RS256, "", claims)},
			{"another key under our kid", signJWT(t, other, jose.RS256, kid, claims)},
			{"ES256 under our RS256 kid", signJWT(t, ec, jose.ES256, kid, claims)},
			{"HS256 (a shared secret)", signJWT(t, []byte(strings.Repeat(kid, 8)), jose.HS256, kid, claims)},
			{"payload changed", parts[0] + "." + b64(tamperedPayload) + "." + parts[2]},
			{"signature cut", parts[0] + "." + parts[1] + "."},
			{"another subject", signJWT(t, sk.Key(), jose.RS256, sk.ID(), with("sub", o.user.ID))},
			{"no such token id", signJWT(t, sk.Key(), jose.RS256, sk.ID(), with("jti", "no-such-token"))},
			{"expired claim", signJWT(t, sk.Key(), jose.RS256, sk.ID(), with("exp", o.env.Clock.Now().Add(-time.Second).Unix()))},
			{"a refresh token", tok.RefreshToken},
			{"an ID token", tok.Extra("id_token").(string)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantBearerInvalid(t, tc.name, userinfo(t, o.env, tc.token))
			})
		}
		t.Run("the real token still works", func(t *testing.T) {
			if r := userinfo(t, o.env, tok.AccessToken); r.Status != http.StatusOK {
				t.Errorf("userinfo: %d %s", r.Status, r.Body)
			}
		})
		t.Run("expired after use", func(t *testing.T) {
			_, tok := fresh(t)
			o.env.Clock.Advance(o.env.App.Config.AccessTokenTTL.Duration + time.Second)
			wantBearerInvalid(t, "expired token", userinfo(t, o.env, tok.AccessToken))
		})
		t.Run("signing key unpublished after use", func(t *testing.T) {
			_, tok := fresh(t)
			if _, err := o.env.App.Keys.Rotate(ctx, jose.RS256, 0); err != nil { // no overlap: the old key is gone
				t.Fatal(err)
			}
			o.env.Clock.Advance(time.Second)
			wantBearerInvalid(t, "token of an unpublished key", userinfo(t, o.env, tok.AccessToken))
		})
	})
}

// Userinfo takes the token as RFC 6750 §2 allows, once, and answers GET and POST (OIDC Core §5.3.1).
func TestUserinfoRequests(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st, "openid", "email")
		_, tok := o.signIn(t, o.rp, o.env.NewBrowser())
		form := url.Values{"access_token": {tok.AccessToken}}
		bearer := http.Header{"Authorization": {"Bearer " + tok.AccessToken}}
		for _, tc := range []struct {
			name       string
			req        func() *http.Request
			wantStatus int
			wantError  string // in the WWW-Authenticate challenge; "" for none
		}{
			{"GET with the header", func() *http.Request { return request(t, http.MethodGet, o.env.URL+userinfoPath, bearer) }, 200, ""},
			{"POST with the header", func() *http.Request { return request(t, http.MethodPost, o.env.URL+userinfoPath, bearer) }, 200, ""},
			{"lower-case scheme", func() *http.Request {
				return request(t, http.MethodGet, o.env.URL+userinfoPath, http.Header{"Authorization": {"bearer " + tok.AccessToken}})
			}, 200, ""},
			{"POST with a form body", func() *http.Request { return formRequest(o.env.URL+userinfoPath, form, "", "") }, 200, ""},
			{"GET with a query parameter", func() *http.Request {
				return request(t, http.MethodGet, o.env.URL+userinfoPath+"?"+form.Encode(), nil)
			}, 200, ""},
			{"header and form body", func() *http.Request {
				r := formRequest(o.env.URL+userinfoPath, form, "", "")
				r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
				return r
			}, 400, "invalid_request"},
			{"two form parameters", func() *http.Request {
				return formRequest(o.env.URL+userinfoPath, url.Values{"access_token": {tok.AccessToken, tok.AccessToken}}, "", "")
			}, 400, "invalid_request"},
			{"empty Bearer", func() *http.Request {
				return request(t, http.MethodGet, o.env.URL+userinfoPath, http.Header{"Authorization": {"Bearer "}})
			}, 400, "invalid_request"},
			{"Basic scheme: no Bearer credentials", func() *http.Request {
				return request(t, http.MethodGet, o.env.URL+userinfoPath, http.Header{"Authorization": {"Basic " + tok.AccessToken}})
			}, 401, ""},
			{"PUT", func() *http.Request { return request(t, http.MethodPut, o.env.URL+userinfoPath, bearer) }, 405, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := do(t, tc.req())
				if r.Status != tc.wantStatus {
					t.Fatalf("status %d, want %d: %s", r.Status, tc.wantStatus, r.Body)
				}
				if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control %q", cc)
				}
				ch := r.Header.Get("WWW-Authenticate")
				switch {
				case tc.wantStatus == 200:
					if m := r.JSON(t); m["sub"] != o.user.ID || m["email"] != o.user.Email || m["tenant"] != o.ten.ID {
						t.Errorf("claims %v", m)
					}
					if ct := r.Header.Get("Content-Type"); ct != "application/json" {
						t.Errorf("Content-Type %q", ct)
					}
				case tc.wantStatus == 405:
					if r.Header.Get("Allow") != "GET, POST" {
						t.Errorf("Allow %q", r.Header.Get("Allow"))
					}
				case tc.wantError == "":
					if !strings.HasPrefix(ch, "Bearer") || strings.Contains(ch, "error=") {
						t.Errorf("WWW-Authenticate %q, want a Bearer challenge without an error", ch)
					}
				default:
					if !strings.HasPrefix(ch, "Bearer") || !strings.Contains(ch, `error="`+tc.wantError+`"`) || r.OAuthError() != tc.wantError {
						t.Errorf("WWW-Authenticate %q, body %s, want %s", ch, r.Body, tc.wantError)
					}
				}
			})
		}
	})
}

func request(t *testing.T, method, u string, header http.Header) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return req
}

// signJWT signs claims as a compact JWS with key under kid ("" for none).
func signJWT(t *testing.T, key any, alg jose.SignatureAlgorithm, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func jwtPart(t *testing.T, token string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func jwtHeader(t *testing.T, token string) map[string]any { return jwtPart(t, token, 0) }
func jwtClaims(t *testing.T, token string) map[string]any { return jwtPart(t, token, 1) }

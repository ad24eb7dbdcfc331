package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// jwtAlg is the alg of a JWT's header.
func jwtAlg(t *testing.T, raw string) string {
	t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("parse JWT: %v", err)
	}
	return jws.Signatures[0].Header.Algorithm
}

// TestClientSigningAlgorithm: a client registered with id_token_signed_response_alg ES256 gets ES256
// ID and access tokens, at the code exchange and at every refresh, and its access token works at
// userinfo; a client that chose nothing keeps RS256. The JWKS publishes a key of each algorithm, and
// discovery lists RS256 first.
func TestClientSigningAlgorithm(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st, "openid", "email", "offline_access")
		es, esSecret := o.env.Client(o.ten.ID, apptest.ClientOptions{IDTokenAlg: "ES256"})
		esRP := o.env.RP(es, esSecret, "openid", "email", "offline_access")

		var set jose.JSONWebKeySet
		if err := json.Unmarshal([]byte(get(t, o.env.URL+keysPath, nil).Body), &set); err != nil {
			t.Fatal(err)
		}
		var algs []string
		for _, k := range set.Keys {
			algs = append(algs, k.Algorithm)
		}
		if !slices.Contains(algs, "RS256") || !slices.Contains(algs, "ES256") {
			t.Errorf("JWKS algorithms %v, want RS256 and ES256", algs)
		}
		var disco struct {
			IDTokenAlgs []string `json:"id_token_signing_alg_values_supported"`
		}
		if err := json.Unmarshal([]byte(get(t, o.env.URL+"/.well-known/openid-configuration", nil).Body), &disco); err != nil {
			t.Fatal(err)
		}
		if len(disco.IDTokenAlgs) != 2 || disco.IDTokenAlgs[0] != "RS256" || disco.IDTokenAlgs[1] != "ES256" {
			t.Errorf("id_token_signing_alg_values_supported %v, want [RS256 ES256]", disco.IDTokenAlgs)
		}

		for _, tc := range []struct {
			name string
			rp   *apptest.RP
			want string
		}{{"default client", o.rp, "RS256"}, {"ES256 client", esRP, "ES256"}} {
			t.Run(tc.name, func(t *testing.T) {
				a, tok := o.signIn(t, tc.rp, o.env.NewBrowser())
				for round, label := range []string{"code exchange", "refresh", "second refresh"} {
					if round > 0 {
						var err error
						tok, err = tc.rp.OAuth.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
						if err != nil {
							t.Fatalf("%s: %v", label, err)
						}
					}
					tc.rp.IDToken(tok, map[bool]string{true: a.Nonce}[round == 0]) // verified against the JWKS
					idt, _ := tok.Extra("id_token").(string)
					if got := jwtAlg(t, idt); got != tc.want {
						t.Errorf("%s: ID token alg %s, want %s", label, got, tc.want)
					}
					if got := jwtAlg(t, tok.AccessToken); got != tc.want {
						t.Errorf("%s: access token alg %s, want %s", label, got, tc.want)
					}
					verifyJWT(t, o.env, tok.AccessToken)
					if r := userinfo(t, o.env, tok.AccessToken); r.Status != http.StatusOK {
						t.Errorf("%s: userinfo %d %s", label, r.Status, r.Body)
					}
				}
			})
		}
	})
}

// TestAdminAPIClientSigningAlgorithm: the admin API registers a client for ES256 and shows it.
func TestAdminAPIClientSigningAlgorithm(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		e := newAdminEnv(t, st)
		token := serviceToken(t, e.rp, e.svc, e.svcSecret)
		r := e.call(t, "POST", "/clients", token, `{"name":"Fast","redirect_uris":["https://fast.example/cb"],"id_token_signed_response_alg":"ES256"}`)
		es := decode[struct {
			ID  string
			Alg string `json:"id_token_signed_response_alg"`
		}](t, r)
		stored, err := st.ClientByID(t.Context(), es.ID)
		if r.Status != 201 || es.Alg != "ES256" || err != nil || stored.IDTokenAlg != "ES256" {
			t.Errorf("ES256 client: %d %s (stored %q, %v)", r.Status, r.Body, stored.IDTokenAlg, err)
		}
		if list := e.call(t, "GET", "/clients", token, ""); !strings.Contains(list.Body, `"id_token_signed_response_alg":"ES256"`) {
			t.Errorf("list: %s", list.Body)
		}
	})
}

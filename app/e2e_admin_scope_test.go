package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// An app of the tenant is not its admin: an admin who signs in to it (here silently, prompt=none,
// from an SSO session with both factors) gives it no token for the admin API, so it cannot switch the
// tenant's MFA off. Only an admin client gets the admin scope, and only for the tenant's admins.
func TestAdminScopeOnlyThroughAdminClients(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		e := newAdminEnv(t, st)
		env := e.env
		env.SetMFA(e.ten.ID, true)
		b := env.NewBrowser()
		app, appSecret := env.Client(e.ten.ID, apptest.ClientOptions{})
		enrolToken(t, env, env.RP(app, appSecret, "openid"), b, e.admin.Email) // the admin's SSO session

		public, _ := env.Client(e.ten.ID, apptest.ClientOptions{Public: true, Redirect: "http://127.0.0.1:1/native"})
		publicRP := env.RP(public, "", "openid", "offline_access", adminScope)
		publicRP.OAuth.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		for name, rp := range map[string]*apptest.RP{
			"confidential app": env.RP(app, appSecret, "openid", "offline_access", adminScope),
			"public app":       publicRP,
		} {
			t.Run(name, func(t *testing.T) {
				a := rp.Start(prompt("none"))
				tok, err := rp.Exchange(a.Code(t, b.Get(a.URL)), a)
				if err != nil {
					t.Fatalf("exchange: %v", err)
				}
				if sc, _ := tok.Extra("scope").(string); strings.Contains(sc, adminScope) {
					t.Errorf("the app was granted %q", sc)
				}
				wantNoAdmin(t, e, tok.AccessToken)
				next, err := rp.OAuth.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
				if err != nil {
					t.Fatalf("refresh: %v", err)
				}
				wantNoAdmin(t, e, next.AccessToken)
			})
		}

		// The admin client, from the same session: the admin API answers.
		tok := ssoToken(t, e.rp, b)
		if r := e.call(t, http.MethodGet, "/mfa-policy", tok.AccessToken, ""); r.Status != http.StatusOK {
			t.Fatalf("the admin client's token: %d %s", r.Status, r.Body)
		}
		if ten, err := st.TenantByID(context.Background(), e.ten.ID); err != nil || !ten.MFAEnabled {
			t.Fatalf("the tenant's MFA policy changed: %+v %v", ten, err)
		}
	})
}

// A refresh token that an app holds with the admin scope from before apps stopped getting it (an
// earlier version granted it through any client) yields tokens without it, and the app keeps its
// ordinary access.
func TestRefreshDropsTheAdminScopeOfAnApp(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		e := newAdminEnv(t, st)
		env := e.env
		app, appSecret := env.Client(e.ten.ID, apptest.ClientOptions{})
		ctx := context.Background()
		now := time.Now().UTC()
		value := "legacy-" + storage.NewID() // looked up by its hash, as every refresh token
		at := storage.AccessToken{ID: storage.NewID(), GrantID: storage.NewID(), TenantID: e.ten.ID, ClientID: app.ID,
			Subject: e.admin.ID, Scopes: []string{"openid", "offline_access", adminScope},
			Audience: []string{app.ID, strings.TrimSuffix(env.URL, "/") + "/api"}, AMR: []string{"pwd"},
			ACR: "urn:portcullis:acr:pwd", AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
		rt := storage.RefreshToken{ID: storage.NewID(), TokenHash: secret.TokenHash(value), GrantID: at.GrantID,
			TenantID: at.TenantID, ClientID: app.ID, Subject: at.Subject, Scopes: at.Scopes, Audience: at.Audience,
			AMR: at.AMR, ACR: at.ACR, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := st.CreateTokens(ctx, at, &rt); err != nil {
			t.Fatal(err)
		}
		r := postForm(t, env.URL, tokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {value}}, app.ID, appSecret)
		if r.Status != http.StatusOK {
			t.Fatalf("refresh: %d %s", r.Status, r.Body)
		}
		m := r.JSON(t)
		if sc, _ := m["scope"].(string); strings.Contains(sc, adminScope) || !strings.Contains(sc, "openid") {
			t.Errorf("scope after the refresh: %q", sc)
		}
		access, _ := m["access_token"].(string)
		wantNoAdmin(t, e, access)
		if r := userinfo(t, env, access); r.Status != http.StatusOK {
			t.Errorf("the app's ordinary access: userinfo %d %s", r.Status, r.Body)
		}
		claims, err := env.App.Provider.VerifyAccessToken(httptest.NewRequest(http.MethodGet, env.URL+"/", nil), access)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(claims.Audience, strings.TrimSuffix(env.URL, "/")+"/api") {
			t.Errorf("the new access token is still for the admin API: %v", claims.Audience)
		}
	})
}

// wantNoAdmin: the token does not open the admin API, and turning MFA off with it fails.
func wantNoAdmin(t *testing.T, e *adminEnv, token string) {
	t.Helper()
	if r := e.call(t, http.MethodPut, "/mfa-policy", token, `{"enabled":false}`); r.Status != http.StatusForbidden {
		t.Errorf("PUT mfa-policy with an app's token: %d %s", r.Status, r.Body)
	}
}

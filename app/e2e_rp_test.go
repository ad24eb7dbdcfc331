package app_test

import (
	"context"
	"net/url"
	"slices"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

type nonceKey struct{}

// The zitadel relying party (another real client library) through the whole code flow with PKCE:
// discovery, authorization URL, code exchange with ID token verification, userinfo, refresh,
// revocation and end_session.
func TestZitadelRelyingParty(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		public, _ := o.env.Client(o.ten.ID, apptest.ClientOptions{Public: true, Redirect: "http://127.0.0.1:1/native"})
		for _, tc := range []struct {
			name   string
			client storage.Client
			secret string
			style  oauth2.AuthStyle
		}{
			{"confidential, client_secret_basic", o.client, o.secret, oauth2.AuthStyleInHeader},
			{"confidential, client_secret_post", o.client, o.secret, oauth2.AuthStyleInParams},
			{"public", public, "", oauth2.AuthStyleInParams},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ctx := context.Background()
				nonce := "nonce-" + tc.name
				party, err := rp.NewRelyingPartyOIDC(ctx, o.env.URL, tc.client.ID, tc.secret, tc.client.RedirectURIs[0],
					[]string{oidc.ScopeOpenID, oidc.ScopeEmail, oidc.ScopeOfflineAccess},
					rp.WithAuthStyle(tc.style), rp.WithSigningAlgsFromDiscovery(),
					rp.WithVerifierOpts(rp.WithNonce(func(ctx context.Context) string { s, _ := ctx.Value(nonceKey{}).(string); return s })))
				if err != nil {
					t.Fatalf("relying party: %v", err)
				}
				verifier := oauth2.GenerateVerifier()
				state := "state-" + tc.name
				u := rp.AuthURL(state, party, rp.WithCodeChallenge(oidc.NewSHACodeChallenge(verifier)),
					rp.AuthURLOpt(rp.WithURLParam("nonce", nonce)))

				b := o.env.NewBrowser()
				p := b.Submit(b.Get(u), "/login/password", map[string]string{"email": o.user.Email, "password": pw})
				code := (&apptest.Attempt{State: state}).Code(t, p)

				// The code's ID token carries the nonce; a refreshed one has none (OIDC Core §12.2).
				tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](context.WithValue(ctx, nonceKey{}, nonce), code, party, rp.WithCodeVerifier(verifier))
				if err != nil {
					t.Fatalf("code exchange: %v", err)
				}
				claims := tokens.IDTokenClaims
				if claims.Subject != o.user.ID || claims.Nonce != nonce || !slices.Equal([]string(claims.AuthenticationMethodsReferences), []string{"pwd"}) ||
					claims.AuthenticationContextClassReference != "urn:portcullis:acr:pwd" || claims.AuthTime == 0 || claims.Email != o.user.Email {
					t.Errorf("ID token claims %+v", claims)
				}
				info, err := rp.Userinfo[*oidc.UserInfo](ctx, tokens.AccessToken, tokens.TokenType, claims.Subject, party)
				if err != nil || info.Email != o.user.Email {
					t.Errorf("userinfo %+v %v", info, err)
				}

				refreshed, err := rp.RefreshTokens[*oidc.IDTokenClaims](ctx, party, tokens.RefreshToken, "", "")
				if err != nil {
					t.Fatalf("refresh: %v", err)
				}
				if refreshed.RefreshToken == tokens.RefreshToken || refreshed.IDTokenClaims == nil ||
					refreshed.IDTokenClaims.AuthenticationContextClassReference != "urn:portcullis:acr:pwd" {
					t.Errorf("refresh did not rotate or lost acr: %+v", refreshed.IDTokenClaims)
				}
				if _, err := rp.RefreshTokens[*oidc.IDTokenClaims](ctx, party, tokens.RefreshToken, "", ""); err == nil {
					t.Error("the spent refresh token worked again")
				}

				if tc.secret != "" { // revocation needs client authentication
					r, err := rp.NewRelyingPartyOIDC(ctx, o.env.URL, tc.client.ID, tc.secret, tc.client.RedirectURIs[0], nil, rp.WithAuthStyle(tc.style))
					if err != nil {
						t.Fatal(err)
					}
					// The reuse above revoked the family already; a fresh sign-in gives a live token to revoke.
					b2 := o.env.NewBrowser()
					_, tok := o.signIn(t, o.env.RP(tc.client, tc.secret, "openid", "offline_access"), b2)
					if err := rp.RevokeToken(ctx, r, tok.RefreshToken, "refresh_token"); err != nil {
						t.Fatalf("revoke: %v", err)
					}
					wantBearerInvalid(t, "userinfo after revoking the refresh token", userinfo(t, o.env, tok.AccessToken))
				}

				// rp.EndSession posts from the app's back end and returns where to send the browser.
				endURL, err := rp.EndSession(ctx, party, tokens.IDToken, tc.client.PostLogoutURIs[0], "bye", "", nil)
				if err != nil {
					t.Fatalf("end session: %v", err)
				}
				if endURL == nil || endURL.Scheme+"://"+endURL.Host+endURL.Path != tc.client.PostLogoutURIs[0] || endURL.Query().Get("state") != "bye" {
					t.Fatalf("end session sends the browser to %v", endURL)
				}
				// The browser's own visit ends its session.
				q := url.Values{"id_token_hint": {tokens.IDToken}, "post_logout_redirect_uri": {tc.client.PostLogoutURIs[0]}, "state": {"bye"}}
				p = b.Get(party.GetEndSessionEndpoint() + "?" + q.Encode())
				if p.Redirect == nil || p.Redirect.String() != endURL.String() {
					t.Fatalf("browser end session: %d redirect %v, want %s", p.Status, p.Redirect, endURL)
				}
				a := o.rp.Start(prompt("none"))
				if p := b.Get(a.URL); apptest.AppError(p) != "login_required" {
					t.Errorf("after end_session: %d %v", p.Status, p.Redirect)
				}
			})
		}
	})
}

package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/portcullis/portcullis/clientreg"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// TestBearerNeedsAnAdminClient: after the token's signature (stubbed here: the bearer value names the
// token row), the admin API decides on the database: an admin's token counts only from an admin client
// of the tenant, so a token an app got with the admin scope (before apps stopped getting it) opens
// nothing; a member's token never does.
func TestBearerNeedsAnAdminClient(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		ten, err := st.CreateTenant(ctx, storage.Tenant{Slug: "acme", Name: "Acme"})
		if err != nil {
			t.Fatal(err)
		}
		admin, _ := st.CreateUser(ctx, storage.User{TenantID: ten.ID, Email: "boss@acme.test", PasswordHash: "x", Role: storage.RoleAdmin})
		member, _ := st.CreateUser(ctx, storage.User{TenantID: ten.ID, Email: "ann@acme.test", PasswordHash: "x", Role: storage.RoleMember})
		client := func(isAdmin bool) storage.Client {
			c, err := st.CreateClient(ctx, storage.Client{TenantID: ten.ID, Name: "c", RedirectURIs: []string{"https://c.test/cb"},
				Grants: []string{clientreg.GrantAuthorizationCode}, Admin: isAdmin})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		console, app := client(true), client(false)
		token := func(c storage.Client, u storage.User) string {
			at := storage.AccessToken{ID: storage.NewID(), GrantID: storage.NewID(), TenantID: ten.ID, ClientID: c.ID,
				Subject: u.ID, Scopes: []string{"openid", clientreg.AdminScope}, Audience: []string{c.ID, "admin-api"},
				AMR: []string{"pwd"}, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
			if err := st.CreateTokens(ctx, at, nil); err != nil {
				t.Fatal(err)
			}
			return at.ID
		}
		h := &Handler{Store: st, Audience: "admin-api", Now: time.Now,
			VerifyToken: func(_ *http.Request, tok string) (*oidc.AccessTokenClaims, error) {
				return &oidc.AccessTokenClaims{TokenClaims: oidc.TokenClaims{JWTID: tok, Audience: []string{"admin-api"}},
					Scopes: []string{clientreg.AdminScope}}, nil
			}}
		for _, tc := range []struct {
			name   string
			token  string
			status int
		}{
			{"admin through the admin client", token(console, admin), http.StatusOK},
			{"admin through an app", token(app, admin), http.StatusForbidden},
			{"member through the admin client", token(console, member), http.StatusForbidden},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req := httptest.NewRequest(http.MethodGet, "/api/v1/tenants/acme/mfa-policy", nil)
				req.Header.Set("Authorization", "Bearer "+tc.token)
				rec := httptest.NewRecorder()
				c := echo.New().NewContext(req, rec)
				c.SetParamNames("tenant")
				c.SetParamValues("acme")
				err := h.bearer(func(c echo.Context) error { return c.NoContent(http.StatusOK) })(c)
				if err != nil {
					t.Fatal(err)
				}
				if rec.Code != tc.status {
					t.Errorf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
				}
			})
		}
	})
}

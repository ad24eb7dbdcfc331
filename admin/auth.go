package admin

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/clientreg"
	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/storage"
)

// bearer authenticates an admin API call: one of our access tokens, verified (signature, issuer,
// expiry), for the admin API audience, with the admin scope, not revoked, of an admin of this tenant
// (a user with the admin role, with the second factor when the tenant requires it; or a service
// client marked admin). 401 without a valid token, 404 for an unknown tenant, 403 for anyone else.
func (h *Handler) bearer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := h.ctx(c)
		authz := c.Request().Header.Get("Authorization")
		scheme, raw, _ := strings.Cut(authz, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" { // the scheme is case-insensitive (RFC 9110 §11.1)
			return unauthorized(c, "", "a bearer access token is required")
		}
		claims, err := h.VerifyToken(c.Request(), strings.TrimSpace(raw))
		if err != nil {
			return unauthorized(c, "invalid_token", "the access token is invalid or expired")
		}
		if !slices.Contains(claims.Audience, h.Audience) || !slices.Contains(claims.Scopes, clientreg.AdminScope) {
			// RFC 6750 §3.1: the challenge names the scope the token lacks.
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="portcullis-admin", error="insufficient_scope", scope="`+clientreg.AdminScope+`"`)
			return problem(c, http.StatusForbidden, "insufficient_scope", "the token is not for the admin API (scope portcullis:admin)")
		}
		at, err := h.Store.AccessTokenByID(ctx, claims.JWTID)
		if err != nil || at.RevokedAt != nil || !h.Now().Before(at.ExpiresAt) {
			return unauthorized(c, "invalid_token", "the access token is revoked or expired")
		}
		t, err := h.Store.TenantByRef(ctx, c.Param("tenant"))
		if errors.Is(err, storage.ErrNotFound) {
			return problem(c, http.StatusNotFound, "Not Found", "no such tenant")
		}
		if err != nil {
			return err
		}
		a := actor{tenant: t}
		if at.TenantID != t.ID {
			return problem(c, http.StatusForbidden, "Forbidden", "the token is not for this tenant")
		}
		if at.Subject == at.ClientID { // a service client acting for itself
			cl, err := h.Store.ClientByID(ctx, at.ClientID)
			if err != nil || !cl.Admin || cl.TenantID != t.ID {
				return problem(c, http.StatusForbidden, "Forbidden", "this client is not an admin client of the tenant")
			}
			a.id, a.service = cl.ID, true
		} else {
			u, err := h.Store.UserByID(ctx, at.Subject)
			if err != nil || u.Disabled || u.Role != storage.RoleAdmin || u.TenantID != t.ID {
				return problem(c, http.StatusForbidden, "Forbidden", "only the tenant's admins may do this")
			}
			// An admin's token counts only from an admin client of the tenant: any other app the admin
			// signs in to must not act as them (the provider grants the scope through admin clients
			// only; this also refuses a token issued before a client stopped being one).
			cl, err := h.Store.ClientByID(ctx, at.ClientID)
			if err != nil || !cl.Admin || cl.TenantID != t.ID {
				return problem(c, http.StatusForbidden, "Forbidden", "the token was not issued through an admin client of the tenant")
			}
			// The token must carry what the tenant's policy demands now (a policy switched on after
			// the token was issued is honoured at once).
			if !mfa.DecideFor(mfa.FactorsFromAMR(at.AMR), mfa.Demand{TenantMFA: t.MFAEnabled, Methods: t.MFAMethods}).Satisfied {
				// RFC 9470: the challenge tells the client to sign the user in again with the second factor.
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="portcullis-admin", error="insufficient_user_authentication", acr_values="`+mfa.ACRMFA+`"`)
				return problem(c, http.StatusForbidden, "insufficient_user_authentication", "the tenant requires the second factor: sign in again with it")
			}
			a.id, a.email = u.ID, u.Email
		}
		c.Set(actorKey, a)
		return next(c)
	}
}

func unauthorized(c echo.Context, code, detail string) error {
	v := `Bearer realm="portcullis-admin"`
	if code != "" {
		v += `, error="` + code + `", error_description="` + detail + `"`
	}
	c.Response().Header().Set("WWW-Authenticate", v)
	return problem(c, http.StatusUnauthorized, "Unauthorized", detail)
}

// problem answers an RFC 9457 problem document.
func problem(c echo.Context, status int, title, detail string) error {
	c.Response().Header().Set("Content-Type", "application/problem+json")
	c.Response().WriteHeader(status)
	return jsonEncode(c, map[string]any{"type": "about:blank", "title": title, "status": status, "detail": detail})
}

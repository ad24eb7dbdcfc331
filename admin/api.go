package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/tenantadmin"
)

func jsonEncode(c echo.Context, v any) error {
	enc := json.NewEncoder(c.Response())
	return enc.Encode(v)
}

func writeJSON(c echo.Context, status int, v any) error {
	c.Response().Header().Set("Content-Type", "application/json")
	c.Response().WriteHeader(status)
	return jsonEncode(c, v)
}

func fail(c echo.Context, err error) error {
	var bi *badInput
	var inv *tenantadmin.InvalidError
	switch {
	case errors.As(err, &bi):
		return problem(c, bi.status, http.StatusText(bi.status), bi.detail)
	case errors.As(err, &inv):
		return problem(c, http.StatusBadRequest, http.StatusText(http.StatusBadRequest), inv.Detail)
	case errors.Is(err, tenantadmin.ErrLastAdmin):
		return problem(c, http.StatusConflict, http.StatusText(http.StatusConflict), tenantadmin.ErrLastAdmin.Error())
	case errors.Is(err, storage.ErrNotFound):
		return problem(c, http.StatusNotFound, "Not Found", "no such resource in this tenant")
	case errors.Is(err, storage.ErrAlreadyExists):
		return problem(c, http.StatusConflict, "Conflict", "it exists already")
	}
	return err
}

type policyJSON struct {
	Enabled   bool       `json:"enabled"`
	Methods   []string   `json:"methods"`
	UpdatedAt *time.Time `json:"updated_at"`
	UpdatedBy string     `json:"updated_by"`
}

func policyOf(t storage.Tenant) policyJSON {
	p := policyJSON{Enabled: t.MFAEnabled, Methods: t.MFAMethods, UpdatedBy: t.MFAUpdatedBy}
	if !t.MFAUpdatedAt.IsZero() {
		at := t.MFAUpdatedAt
		p.UpdatedAt = &at
	}
	return p
}

func (h *Handler) getPolicy(c echo.Context) error {
	return writeJSON(c, http.StatusOK, policyOf(actorOf(c).tenant))
}

func (h *Handler) putPolicy(c echo.Context) error {
	var in struct {
		Enabled *bool     `json:"enabled"`
		Methods *[]string `json:"methods"`
	}
	if err := bind(c, &in); err != nil {
		return fail(c, err)
	}
	if in.Enabled == nil {
		return fail(c, &badInput{http.StatusBadRequest, `"enabled" (true or false) is required`})
	}
	var methods []string // optional: unchanged when absent
	if in.Methods != nil {
		methods = *in.Methods
	}
	_, after, err := h.Admin.SetMFAPolicy(h.ctx(c), h.actor(c), actorOf(c).tenant.ID, *in.Enabled, methods)
	if err != nil {
		return fail(c, err)
	}
	return writeJSON(c, http.StatusOK, policyOf(after))
}

type userJSON struct {
	ID         string     `json:"id"`
	Email      string     `json:"email"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	Disabled   bool       `json:"disabled"`
	MFA        string     `json:"mfa"`
	Keys       int        `json:"mfa_keys"` // passkeys and security keys
	EnrolledAt *time.Time `json:"mfa_enrolled_at"`
	LastUsedAt *time.Time `json:"mfa_last_used_at"`
	// Where the authenticator was enrolled: the first enrolment after MFA is turned on is trust on first
	// use, so admins and the user can see it and reset it if it was not them.
	EnrolledClientID string    `json:"mfa_enrolled_client_id,omitempty"`
	EnrolledAddress  string    `json:"mfa_enrolled_address,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
}

func userOut(u storage.User, a *storage.Authenticator) userJSON {
	j := userJSON{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Disabled: u.Disabled, MFA: "none", CreatedAt: u.CreatedAt}
	if a != nil {
		j.MFA = a.State
		j.EnrolledAt, j.LastUsedAt = a.ConfirmedAt, a.LastUsedAt
		j.EnrolledClientID, j.EnrolledAddress = a.EnrolledClientID, a.EnrolledAddress
	}
	return j
}

// page reads limit (1..200, default 50) and offset.
func page(c echo.Context) (offset, limit int, err error) {
	limit, offset = 50, 0
	if v := c.QueryParam("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 200 {
			return 0, 0, &badInput{http.StatusBadRequest, "limit must be 1 to 200"}
		}
	}
	if v := c.QueryParam("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			return 0, 0, &badInput{http.StatusBadRequest, "offset must be 0 or more"}
		}
	}
	return offset, limit, nil
}

func paged[T any](items []T, offset, limit int) map[string]any {
	out := map[string]any{"items": items, "next_offset": nil}
	if len(items) > limit {
		out["items"] = items[:limit]
		out["next_offset"] = offset + limit
	}
	return out
}

// usersWithMFA returns a page of the tenant's users with their MFA state (one query for all).
func (h *Handler) usersWithMFA(c echo.Context, tenantID string, offset, limit int) ([]userJSON, error) {
	ms, err := h.Admin.Members(h.ctx(c), tenantID, offset, limit)
	if err != nil {
		return nil, err
	}
	out := make([]userJSON, len(ms))
	for i, m := range ms {
		out[i] = userOut(m.User, m.Authenticator)
		out[i].Keys = m.Keys
	}
	return out, nil
}

func (h *Handler) listUsers(c echo.Context) error {
	offset, limit, err := page(c)
	if err != nil {
		return fail(c, err)
	}
	users, err := h.usersWithMFA(c, actorOf(c).tenant.ID, offset, limit+1)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, paged(users, offset, limit))
}

func (h *Handler) createUser(c echo.Context) error {
	var in struct {
		Email    string `json:"email"`
		Name     string `json:"name"`
		Role     string `json:"role"`
		Password string `json:"password"`
		Invite   bool   `json:"invite"`
	}
	if err := bind(c, &in); err != nil {
		return fail(c, err)
	}
	if in.Role == "" {
		in.Role = storage.RoleMember
	}
	if in.Invite {
		if in.Password != "" {
			return fail(c, &badInput{http.StatusBadRequest, "password: an invited user chooses their own"})
		}
		return h.inviteUser(c, in.Email, in.Name, in.Role)
	}
	var problems []string
	if a, err := mail.ParseAddress(in.Email); err != nil || a.Address != in.Email || len(in.Email) > 320 {
		problems = append(problems, "email: a plain address is required")
	}
	if !tenantadmin.ValidRole(in.Role) {
		problems = append(problems, "role: admin or member")
	}
	if len(in.Password) < 8 || len(in.Password) > 1024 {
		problems = append(problems, "password: 8 to 1024 characters")
	}
	if len(in.Name) > 200 {
		problems = append(problems, "name: at most 200 characters")
	}
	if len(problems) > 0 {
		return fail(c, &badInput{http.StatusBadRequest, fmt.Sprint(problems)})
	}
	u, err := h.Admin.CreateUser(h.ctx(c), h.actor(c), tenantadmin.NewUser{TenantID: actorOf(c).tenant.ID, Email: in.Email,
		Name: in.Name, Role: in.Role, Password: in.Password})
	if errors.Is(err, secret.ErrBusy) {
		c.Response().Header().Set("Retry-After", "1")
		return problem(c, http.StatusServiceUnavailable, "Service Unavailable", "too many password hashes at once; try again")
	}
	if err != nil {
		return fail(c, err)
	}
	return writeJSON(c, http.StatusCreated, userOut(u, nil))
}

func (h *Handler) tenantUser(c echo.Context) (storage.User, error) {
	return h.Admin.User(h.ctx(c), actorOf(c).tenant.ID, c.Param("user"))
}

func (h *Handler) patchUser(c echo.Context) error {
	var in struct {
		Role     *string `json:"role"`
		Disabled *bool   `json:"disabled"`
		Name     *string `json:"name"`
	}
	if err := bind(c, &in); err != nil {
		return fail(c, err)
	}
	if in.Role == nil && in.Disabled == nil && in.Name == nil {
		return fail(c, &badInput{http.StatusBadRequest, `nothing to change: give "role", "disabled" or "name"`})
	}
	if in.Role != nil && !tenantadmin.ValidRole(*in.Role) {
		return fail(c, &badInput{http.StatusBadRequest, "role: admin or member"})
	}
	if in.Name != nil && len(*in.Name) > 200 {
		return fail(c, &badInput{http.StatusBadRequest, "name: at most 200 characters"})
	}
	_, out, err := h.Admin.UpdateUser(h.ctx(c), h.actor(c), actorOf(c).tenant.ID, c.Param("user"),
		tenantadmin.UserChange{Role: in.Role, Disabled: in.Disabled, Name: in.Name})
	if err != nil {
		return fail(c, err)
	}
	m, err := h.Admin.Member(h.ctx(c), out)
	if err != nil {
		return writeJSON(c, http.StatusOK, userOut(out, nil))
	}
	return writeJSON(c, http.StatusOK, userOut(out, m.Authenticator))
}

// resetJSON is the answer to an MFA reset: the one-time enrolment code to pass to the user, shown once.
type resetJSON struct {
	UserID        string    `json:"user_id"`
	EnrolmentCode string    `json:"enrolment_code"`
	ExpiresAt     time.Time `json:"expires_at"`
}

// resetMFA removes the user's authenticator and recovery codes, ends their sessions and revokes their
// tokens: they enrol again at their next sign-in, with the enrolment code this answers (no trust on
// first use after a reset).
func (h *Handler) resetMFA(c echo.Context) error {
	u, err := h.tenantUser(c)
	if err != nil {
		return fail(c, err)
	}
	r, err := h.Admin.ResetMFA(h.ctx(c), h.actor(c), u)
	if err != nil {
		return fail(c, err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return writeJSON(c, http.StatusOK, resetJSON{UserID: u.ID, EnrolmentCode: r.EnrolmentCode, ExpiresAt: r.ExpiresAt})
}

type clientJSON struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	Public         bool      `json:"public"`
	Admin          bool      `json:"admin"`
	RedirectURIs   []string  `json:"redirect_uris"`
	PostLogoutURIs []string  `json:"post_logout_redirect_uris"`
	Grants         []string  `json:"grants"`
	Scopes         []string  `json:"scopes"`
	IDTokenAlg     string    `json:"id_token_signed_response_alg,omitempty"` // "" signs with the server's default
	CreatedAt      time.Time `json:"created_at"`
	Secret         string    `json:"secret,omitempty"` // only in the answer to create
}

func clientOut(cl storage.Client) clientJSON {
	nz := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return clientJSON{ID: cl.ID, Name: cl.Name, Public: cl.Public, Admin: cl.Admin, RedirectURIs: nz(cl.RedirectURIs),
		PostLogoutURIs: nz(cl.PostLogoutURIs), Grants: nz(cl.Grants), Scopes: nz(cl.Scopes), IDTokenAlg: cl.IDTokenAlg,
		CreatedAt: cl.CreatedAt}
}

func (h *Handler) listClients(c echo.Context) error {
	cls, err := h.Store.ListClients(h.ctx(c), actorOf(c).tenant.ID)
	if err != nil {
		return err
	}
	out := make([]clientJSON, len(cls))
	for i, cl := range cls {
		out[i] = clientOut(cl)
	}
	return writeJSON(c, http.StatusOK, map[string]any{"items": out, "next_offset": nil})
}

func (h *Handler) createClient(c echo.Context) error {
	var in struct {
		Name           string   `json:"name"`
		Public         bool     `json:"public"`
		Admin          bool     `json:"admin"`
		RedirectURIs   []string `json:"redirect_uris"`
		PostLogoutURIs []string `json:"post_logout_redirect_uris"`
		Grants         []string `json:"grants"`
		Scopes         []string `json:"scopes"`
		IDTokenAlg     string   `json:"id_token_signed_response_alg"`
	}
	if err := bind(c, &in); err != nil {
		return fail(c, err)
	}
	cl, sec, err := h.Admin.CreateClient(h.ctx(c), h.actor(c), storage.Client{TenantID: actorOf(c).tenant.ID, Name: in.Name,
		Public: in.Public, Admin: in.Admin, RedirectURIs: in.RedirectURIs, PostLogoutURIs: in.PostLogoutURIs, Grants: in.Grants,
		Scopes: in.Scopes, IDTokenAlg: in.IDTokenAlg})
	if err != nil {
		return fail(c, err)
	}
	out := clientOut(cl)
	out.Secret = sec
	return writeJSON(c, http.StatusCreated, out)
}

func (h *Handler) deleteClient(c echo.Context) error {
	if err := h.Admin.DeleteClient(h.ctx(c), h.actor(c), actorOf(c).tenant.ID, c.Param("client")); err != nil {
		return fail(c, err)
	}
	return c.NoContent(http.StatusNoContent)
}

type eventJSON struct {
	ID      string         `json:"id"`
	At      time.Time      `json:"at"`
	Actor   string         `json:"actor"`
	Action  string         `json:"action"`
	Target  string         `json:"target"`
	Address string         `json:"address"`
	Detail  map[string]any `json:"detail"`
}

func (h *Handler) listAudit(c echo.Context) error {
	offset, limit, err := page(c)
	if err != nil {
		return fail(c, err)
	}
	evs, err := h.Store.ListAudit(h.ctx(c), actorOf(c).tenant.ID, offset, limit+1)
	if err != nil {
		return err
	}
	out := make([]eventJSON, len(evs))
	for i, e := range evs {
		out[i] = eventJSON{ID: e.ID, At: e.CreatedAt, Actor: e.ActorID, Action: e.Action, Target: e.TargetID, Address: e.Address, Detail: e.Detail}
	}
	return writeJSON(c, http.StatusOK, paged(out, offset, limit))
}

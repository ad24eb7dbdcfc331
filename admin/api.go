package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/op"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
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

// badInput is a 400/413/415 answered as a problem document.
type badInput struct {
	status int
	detail string
}

func (e *badInput) Error() string { return e.detail }

// bind decodes a JSON body strictly: JSON content type, at most the body limit, no unknown fields,
// no trailing data. Any problem leaves the database untouched.
func bind(c echo.Context, v any) error {
	ct, _, err := mime.ParseMediaType(c.Request().Header.Get("Content-Type"))
	if err != nil || ct != "application/json" {
		return &badInput{http.StatusUnsupportedMediaType, "the body must be application/json"}
	}
	body, err := io.ReadAll(c.Request().Body) // bounded by the body limit
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) || errors.Is(err, echo.ErrStatusRequestEntityTooLarge) { // a chunked body over the limit
			return &badInput{http.StatusRequestEntityTooLarge, "the body is too large"}
		}
		return &badInput{http.StatusBadRequest, "the body could not be read"}
	}
	// encoding/json would store invalid UTF-8, and escaped lone surrogates, as U+FFFD (RFC 8259 §8.1).
	if !utf8.Valid(body) || hasLoneSurrogate(body) {
		return &badInput{http.StatusBadRequest, "malformed JSON: the body is not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &badInput{http.StatusBadRequest, "malformed JSON: " + err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &badInput{http.StatusBadRequest, "malformed JSON: data after the object"}
	}
	return nil
}

// hasLoneSurrogate reports whether a JSON text escapes half of a UTF-16 surrogate pair ("\ud800"
// without its low half, or a low half alone), which names no character.
func hasLoneSurrogate(b []byte) bool {
	hex4 := func(i int) (rune, bool) {
		if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 16)
		return rune(n), err == nil
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		r, ok := hex4(i)
		if !ok {
			i++ // another escape: skip the escaped character (it may be a backslash)
			continue
		}
		switch {
		case utf16.IsSurrogate(r) && r < 0xdc00: // a high half needs a low half next
			lo, ok := hex4(i + 6)
			if !ok || lo < 0xdc00 || lo > 0xdfff {
				return true
			}
			i += 11
		case utf16.IsSurrogate(r):
			return true
		default:
			i += 5
		}
	}
	return false
}

func fail(c echo.Context, err error) error {
	var bi *badInput
	switch {
	case errors.As(err, &bi):
		return problem(c, bi.status, http.StatusText(bi.status), bi.detail)
	case errors.Is(err, storage.ErrNotFound):
		return problem(c, http.StatusNotFound, "Not Found", "no such resource in this tenant")
	case errors.Is(err, storage.ErrAlreadyExists):
		return problem(c, http.StatusConflict, "Conflict", "it exists already")
	}
	return err
}

type policyJSON struct {
	Enabled   bool       `json:"enabled"`
	UpdatedAt *time.Time `json:"updated_at"`
	UpdatedBy string     `json:"updated_by"`
}

func policyOf(t storage.Tenant) policyJSON {
	p := policyJSON{Enabled: t.MFAEnabled, UpdatedBy: t.MFAUpdatedBy}
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
		Enabled *bool `json:"enabled"`
	}
	if err := bind(c, &in); err != nil {
		return fail(c, err)
	}
	if in.Enabled == nil {
		return fail(c, &badInput{http.StatusBadRequest, `"enabled" (true or false) is required`})
	}
	_, after, err := h.Store.SetMFAPolicy(h.ctx(c), actorOf(c).tenant.ID, *in.Enabled, h.audit(c, "mfa.policy_changed", actorOf(c).tenant.ID, nil))
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
	users, err := h.Store.ListUsers(h.ctx(c), tenantID, offset, limit)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	auths, err := h.Store.AuthenticatorsByUsers(h.ctx(c), ids)
	if err != nil {
		return nil, err
	}
	out := make([]userJSON, len(users))
	for i, u := range users {
		var a *storage.Authenticator
		if v, ok := auths[u.ID]; ok {
			a = &v
		}
		out[i] = userOut(u, a)
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

func validRole(r string) bool { return r == storage.RoleAdmin || r == storage.RoleMember }

func (h *Handler) createUser(c echo.Context) error {
	var in struct {
		Email    string `json:"email"`
		Name     string `json:"name"`
		Role     string `json:"role"`
		Password string `json:"password"`
	}
	if err := bind(c, &in); err != nil {
		return fail(c, err)
	}
	if in.Role == "" {
		in.Role = storage.RoleMember
	}
	var problems []string
	if a, err := mail.ParseAddress(in.Email); err != nil || a.Address != in.Email || len(in.Email) > 320 {
		problems = append(problems, "email: a plain address is required")
	}
	if !validRole(in.Role) {
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
	hash, err := h.Hasher.Hash(h.ctx(c), in.Password)
	if errors.Is(err, secret.ErrBusy) {
		c.Response().Header().Set("Retry-After", "1")
		return problem(c, http.StatusServiceUnavailable, "Service Unavailable", "too many password hashes at once; try again")
	}
	if err != nil {
		return err
	}
	var u storage.User
	err = h.Store.InTx(h.ctx(c), func(tx *storage.Store) error {
		var err error
		u, err = tx.CreateUser(h.ctx(c), storage.User{TenantID: actorOf(c).tenant.ID, Email: in.Email, Name: in.Name, Role: in.Role,
			PasswordHash: hash, CreatedAt: h.Now()})
		if err != nil {
			return err
		}
		return tx.AddAudit(h.ctx(c), h.audit(c, "user.created", u.ID, map[string]any{"email": u.Email, "role": u.Role}))
	})
	if err != nil {
		return fail(c, err)
	}
	return writeJSON(c, http.StatusCreated, userOut(u, nil))
}

func (h *Handler) tenantUser(c echo.Context) (storage.User, error) {
	u, err := h.Store.UserByID(h.ctx(c), c.Param("user"))
	if err != nil || u.TenantID != actorOf(c).tenant.ID {
		return storage.User{}, storage.ErrNotFound
	}
	return u, nil
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
	if in.Role != nil && !validRole(*in.Role) {
		return fail(c, &badInput{http.StatusBadRequest, "role: admin or member"})
	}
	if in.Name != nil && len(*in.Name) > 200 {
		return fail(c, &badInput{http.StatusBadRequest, "name: at most 200 characters"})
	}
	if _, err := h.tenantUser(c); err != nil {
		return fail(c, err)
	}
	var out storage.User
	err := h.Store.InTx(h.ctx(c), func(tx *storage.Store) error {
		var before storage.User
		var err error
		out, err = tx.UpdateUser(h.ctx(c), c.Param("user"), func(u *storage.User) error {
			before = *u
			if in.Role != nil {
				u.Role = *in.Role
			}
			if in.Disabled != nil {
				u.Disabled = *in.Disabled
			}
			if in.Name != nil {
				u.Name = *in.Name
			}
			return nil
		})
		if err != nil {
			return err
		}
		if before.Role == storage.RoleAdmin && !before.Disabled && (out.Role != storage.RoleAdmin || out.Disabled) {
			n, err := tx.CountActiveAdmins(h.ctx(c), out.TenantID)
			if err != nil {
				return err
			}
			if n == 0 {
				return &badInput{http.StatusConflict, "the tenant must keep at least one active admin"}
			}
		}
		if out.Disabled && !before.Disabled {
			if err := tx.RevokeUserTokens(h.ctx(c), out.ID, h.Now()); err != nil {
				return err
			}
		}
		return tx.AddAudit(h.ctx(c), h.audit(c, "user.updated", out.ID, map[string]any{
			"old": map[string]any{"role": before.Role, "disabled": before.Disabled, "name": before.Name},
			"new": map[string]any{"role": out.Role, "disabled": out.Disabled, "name": out.Name}}))
	})
	if err != nil {
		return fail(c, err)
	}
	a, aerr := h.Store.AuthenticatorByUser(h.ctx(c), out.ID)
	if aerr != nil {
		return writeJSON(c, http.StatusOK, userOut(out, nil))
	}
	return writeJSON(c, http.StatusOK, userOut(out, &a))
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
	code, rec, err := h.doReset(c, u)
	if err != nil {
		return fail(c, err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return writeJSON(c, http.StatusOK, resetJSON{UserID: u.ID, EnrolmentCode: code, ExpiresAt: rec.ExpiresAt})
}

func (h *Handler) doReset(c echo.Context, u storage.User) (string, storage.EnrolmentCode, error) {
	code, rec, err := h.MFA.NewEnrolmentCode(u, actorOf(c).id)
	if err != nil {
		return "", storage.EnrolmentCode{}, err
	}
	err = h.Store.InTx(h.ctx(c), func(tx *storage.Store) error {
		ev := h.audit(c, "mfa.reset", u.ID, map[string]any{"email": u.Email, "enrolment_code_expires_at": rec.ExpiresAt.UTC().Format(time.RFC3339)})
		if err := tx.ResetMFA(h.ctx(c), u.ID, &rec, ev); err != nil {
			return err
		}
		return tx.RevokeUserTokens(h.ctx(c), u.ID, h.Now())
	})
	return code, rec, err
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
		PostLogoutURIs: nz(cl.PostLogoutURIs), Grants: nz(cl.Grants), Scopes: nz(cl.Scopes), CreatedAt: cl.CreatedAt}
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
	}
	if err := bind(c, &in); err != nil {
		return fail(c, err)
	}
	if in.Grants == nil {
		in.Grants = []string{op.GrantAuthorizationCode, op.GrantRefreshToken}
	}
	cl := storage.Client{TenantID: actorOf(c).tenant.ID, Name: in.Name, Public: in.Public, Admin: in.Admin,
		RedirectURIs: in.RedirectURIs, PostLogoutURIs: in.PostLogoutURIs, Grants: in.Grants, Scopes: in.Scopes, CreatedAt: h.Now()}
	if err := op.ValidateClient(cl); err != nil {
		return fail(c, &badInput{http.StatusBadRequest, err.Error()})
	}
	sec := ""
	if !cl.Public {
		sec = secret.RandomToken(32)
		cl.SecretHash = secret.HashClientSecret(sec)
	}
	err := h.Store.InTx(h.ctx(c), func(tx *storage.Store) error {
		var err error
		if cl, err = tx.CreateClient(h.ctx(c), cl); err != nil {
			return err
		}
		return tx.AddAudit(h.ctx(c), h.audit(c, "client.created", cl.ID, map[string]any{"name": cl.Name, "grants": cl.Grants, "admin": cl.Admin}))
	})
	if err != nil {
		return fail(c, err)
	}
	out := clientOut(cl)
	out.Secret = sec
	return writeJSON(c, http.StatusCreated, out)
}

func (h *Handler) deleteClient(c echo.Context) error {
	err := h.Store.InTx(h.ctx(c), func(tx *storage.Store) error {
		if err := tx.DeleteClient(h.ctx(c), actorOf(c).tenant.ID, c.Param("client")); err != nil {
			return err
		}
		return tx.AddAudit(h.ctx(c), h.audit(c, "client.deleted", c.Param("client"), nil))
	})
	if err != nil {
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

var _ = mfa.State

package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/clientreg"
	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/templates"
)

const settingsURL = "/admin/settings/security"

func pageErr(status int, msg string) error { return &echo.HTTPError{Code: status, Message: msg} }

// session authenticates a settings page by the browser's SSO session: an admin of the session's
// tenant whose sign-in satisfies the tenant's policy now. Signed-out visitors (and sessions that need
// the second factor) are sent to sign in; members get a 403 page.
func (h *Handler) session(next echo.HandlerFunc) echo.HandlerFunc {
	return h.sessionFor(true, "", next)
}

// userSession is session for any user of the tenant (their own account page).
func (h *Handler) userSession(next echo.HandlerFunc) echo.HandlerFunc {
	return h.sessionFor(false, "account", next)
}

const sessionKey = "portcullis.admin.session"

func (h *Handler) sessionFor(adminOnly bool, nextPage string, next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := h.ctx(c)
		signin := "/admin/signin"
		if nextPage != "" {
			signin += "?next=" + nextPage
		}
		s, ok := h.BrowserSession(c.Request())
		if !ok {
			return c.Redirect(http.StatusSeeOther, signin)
		}
		t, err := h.Store.TenantByID(ctx, s.TenantID)
		if err != nil {
			return err
		}
		u, err := h.Store.UserByID(ctx, s.UserID)
		if err != nil || u.Disabled || u.TenantID != t.ID {
			return c.Redirect(http.StatusSeeOther, signin)
		}
		if adminOnly && u.Role != storage.RoleAdmin {
			return pageErr(http.StatusForbidden, "Account settings are for your organisation's admins. Ask one of them for help.")
		}
		// The tenant's whole policy, its allowed methods included: under a phishing-resistant-only
		// policy a session from an authenticator app steps up like any other sign-in.
		if !mfa.DecideFor(s.Factors, mfa.Demand{TenantMFA: t.MFAEnabled, Methods: t.MFAMethods}).Satisfied {
			q := url.Values{"tenant": {t.Slug}}
			if nextPage != "" {
				q.Set("next", nextPage)
			}
			if f := c.QueryParam("flash"); flashes[f] != "" {
				q.Set("flash", f) // shown after the step-up (turning MFA on sends the admin through it)
			}
			return c.Redirect(http.StatusSeeOther, "/admin/signin?"+q.Encode())
		}
		c.Set(actorKey, actor{id: u.ID, email: u.Email, tenant: t})
		c.Set(sessionKey, s)
		return next(c)
	}
}

func (h *Handler) home(c echo.Context) error { return c.Redirect(http.StatusSeeOther, settingsURL) }

// signin starts a sign-in to the account settings through the provider, as the tenant's built-in
// console client, so the same policy (password, then the second factor) applies as for any app.
func (h *Handler) signin(c echo.Context) error {
	ctx := h.ctx(c)
	ref := c.QueryParam("tenant")
	var t storage.Tenant
	var err error
	if ref == "" {
		ts, lerr := h.Store.ListTenants(ctx)
		if lerr != nil {
			return lerr
		}
		if len(ts) != 1 {
			return pageErr(http.StatusBadRequest, "Open /admin/signin?tenant=<your organisation's slug> to sign in to its account settings.")
		}
		t = ts[0]
	} else if t, err = h.Store.TenantByRef(ctx, ref); err != nil {
		return pageErr(http.StatusNotFound, "There is no organisation with that name.")
	}
	cl, err := h.consoleClient(c, t)
	if err != nil {
		return err
	}
	q := url.Values{"client_id": {cl.ID}, "redirect_uri": {cl.RedirectURIs[0]}, "response_type": {"code"},
		"scope": {"openid"}, "state": {secret.RandomToken(16)}}
	if c.QueryParam("reauth") == "1" {
		// A full sign-in again (ASVS 7.5.1) before changing authentication settings.
		q.Set("prompt", "login")
	}
	if f := c.QueryParam("flash"); flashes[f] != "" {
		q.Set("state", "flash-"+f+"."+q.Get("state"))
	}
	if c.QueryParam("next") == "account" {
		q.Set("state", "account."+q.Get("state"))
		if c.QueryParam("fresh") == "1" {
			// Recovery codes are changed only after a fresh sign-in with the second factor.
			q.Set("prompt", "login")
			q.Set("acr_values", mfa.ACRMFA)
		}
	}
	return c.Redirect(http.StatusSeeOther, "/authorize?"+q.Encode())
}

// consoleClient is the tenant's built-in client for the account settings, made on first use.
func (h *Handler) consoleClient(c echo.Context, t storage.Tenant) (storage.Client, error) {
	id := "console-" + t.ID
	if cl, err := h.Store.ClientByID(h.ctx(c), id); err == nil {
		return cl, nil
	}
	// Nobody redeems its codes (the session is what counts), so its secret is thrown away.
	cl, err := h.Store.CreateClient(h.ctx(c), storage.Client{ID: id, TenantID: t.ID, Name: "Account settings",
		SecretHash:   secret.HashClientSecret(secret.RandomToken(32)),
		RedirectURIs: []string{strings.TrimSuffix(h.Issuer, "/") + "/admin/callback"}, Grants: []string{clientreg.GrantAuthorizationCode},
		CreatedAt: h.Now()})
	if errors.Is(err, storage.ErrAlreadyExists) {
		return h.Store.ClientByID(h.ctx(c), id)
	}
	return cl, err
}

// callback ends the console sign-in: the login UI has set the session cookie; the code is not needed.
func (h *Handler) callback(c echo.Context) error {
	if e := c.QueryParam("error"); e != "" {
		return pageErr(http.StatusForbidden, "Signing in to the account settings did not complete ("+e+").")
	}
	state := c.QueryParam("state")
	if strings.HasPrefix(state, "account.") {
		return c.Redirect(http.StatusSeeOther, accountURL)
	}
	if f, _, ok := strings.Cut(strings.TrimPrefix(state, "flash-"), "."); ok && strings.HasPrefix(state, "flash-") && flashes[f] != "" {
		return c.Redirect(http.StatusSeeOther, settingsURL+"?flash="+f)
	}
	return c.Redirect(http.StatusSeeOther, settingsURL)
}

var flashes = map[string]string{
	"enabled":    "Two factor authentication is on. Everyone in your organisation will be asked for a code at their next sign-in.",
	"removed":    "Two factor authentication is off. People sign in with their password only.",
	"reset":      "The user's authenticator was reset. They will set up a new one at their next sign-in.",
	"methods":    "The second factors your organisation allows were changed.",
	"invited":    "The invitation is on its way. The link in it works for 7 days.",
	"reset-sent": "A password-reset email is on its way to the user.",
	"deleted":    "The user was deleted.",
}

func (h *Handler) base(c echo.Context, title string) templates.Base {
	return templates.Base{Title: title, TenantName: actorOf(c).tenant.Name, CSRFToken: csrfToken(c)}
}

func csrfToken(c echo.Context) string {
	t, _ := c.Get("csrf").(string) // set by the CSRF middleware the login UI gives (login.CSRFToken)
	return t
}

func (h *Handler) settings(c echo.Context) error {
	ctx := h.ctx(c)
	a := actorOf(c)
	users, err := h.usersWithMFA(c, a.tenant.ID, 0, 200)
	if err != nil {
		return err
	}
	evs, err := h.Store.ListAudit(ctx, a.tenant.ID, 0, 25)
	if err != nil {
		return err
	}
	clients, err := h.Store.ListClients(ctx, a.tenant.ID)
	if err != nil {
		return err
	}
	clientNames := make(map[string]string, len(clients))
	for _, cl := range clients {
		clientNames[cl.ID] = cl.Name
	}
	emails := map[string]string{}
	data := templates.SettingsPage{Base: h.base(c, "Security"), TenantRef: a.tenant.Slug, MFAEnabled: a.tenant.MFAEnabled,
		MFAUpdatedAt: a.tenant.MFAUpdatedAt, Flash: flashes[c.QueryParam("flash")], AdminEmail: a.email,
		AllowTOTP: slices.Contains(a.tenant.MFAMethods, mfa.MethodTOTP), AllowWebAuthn: slices.Contains(a.tenant.MFAMethods, mfa.MethodWebAuthn)}
	for _, u := range users {
		emails[u.ID] = u.Email
		data.Users = append(data.Users, templates.UserRow{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, MFAState: u.MFA, Keys: u.Keys,
			Disabled: u.Disabled, EnrolledAt: u.EnrolledAt, LastUsed: u.LastUsedAt, EnrolledFrom: enrolledFrom(u.EnrolledClientID, u.EnrolledAddress, clientNames)})
	}
	emails[a.tenant.ID] = a.tenant.Name // the target of policy changes
	data.MFAUpdatedBy = nameOf(emails, a.tenant.MFAUpdatedBy)
	for _, e := range evs {
		data.Events = append(data.Events, templates.EventRow{At: e.CreatedAt, Actor: nameOf(emails, e.ActorID), Action: e.Action,
			Target: nameOf(emails, e.TargetID), Address: e.Address, Detail: detailText(e.Detail)})
	}
	return h.render(c, "settings", data)
}

// enrolledFrom says where an authenticator was enrolled: the app's name (or id) and the address.
func enrolledFrom(clientID, address string, clientNames map[string]string) string {
	var parts []string
	if clientID != "" {
		parts = append(parts, nameOf(clientNames, clientID))
	}
	if address != "" {
		parts = append(parts, address)
	}
	return strings.Join(parts, " · ")
}

func nameOf(emails map[string]string, id string) string {
	if e, ok := emails[id]; ok {
		return e
	}
	return id
}

func detailText(d map[string]any) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		v, _ := json.Marshal(d[k])
		parts = append(parts, k+"="+string(v))
	}
	return strings.Join(parts, " ")
}

func (h *Handler) render(c echo.Context, name string, data any) error {
	return h.renderStatus(c, http.StatusOK, name, data)
}

// renderStatus is render with status (0: 200).
func (h *Handler) renderStatus(c echo.Context, status int, name string, data any) error {
	if status == 0 {
		status = http.StatusOK
	}
	c.Response().Header().Set("Content-Type", "text/html; charset=utf-8")
	c.Response().WriteHeader(status)
	return h.Templates.Render(c.Response(), name, data)
}

// recentFor is how recent the admin's sign-in must be to change the tenant's authentication settings.
const recentFor = 15 * time.Minute

// recent reports whether the browser's sign-in is at most recentFor old (ASVS 7.5.1: re-authenticate
// before changing authentication settings).
func (h *Handler) recent(c echo.Context) bool {
	s, ok := c.Get(sessionKey).(storage.Session)
	return ok && h.Now().Sub(s.AuthTime) <= recentFor
}

// requireRecent sends an admin whose sign-in is older than recentFor to sign in again (GET), or
// refuses the change (POST).
func (h *Handler) requireRecent(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if h.recent(c) {
			return next(c)
		}
		if c.Request().Method == http.MethodGet {
			return c.Redirect(http.StatusSeeOther, "/admin/signin?"+url.Values{"tenant": {actorOf(c).tenant.Slug}, "reauth": {"1"}}.Encode())
		}
		return pageErr(http.StatusForbidden, "For your security, sign in again before changing authentication settings.")
	}
}

func (h *Handler) confirmPolicy(c echo.Context) error {
	on := c.QueryParam("enabled") == "true"
	p := templates.ConfirmPage{Base: h.base(c, "Two factor authentication"), Action: "/admin/settings/security/mfa",
		CancelURL: settingsURL, Fields: map[string]string{"enabled": fmt.Sprint(on)}}
	if on {
		p.Heading = "Enable two factor authentication?"
		p.Message = "Everyone in " + actorOf(c).tenant.Name + " will need a code from an authenticator app at every sign-in. " +
			"People without one will be asked to set it up at their next sign-in."
		p.ConfirmLabel = "Enable two factor authentication"
	} else {
		p.Heading = "Remove two factor authentication?"
		p.Message = "People will sign in with their password only. Their authenticators are kept, so turning it on again does not ask them to set up a new one."
		p.ConfirmLabel = "Remove"
		p.Danger = true
	}
	return h.render(c, "confirm", p)
}

func (h *Handler) setPolicyForm(c echo.Context) error {
	v := c.FormValue("enabled")
	if v != "true" && v != "false" {
		return pageErr(http.StatusBadRequest, "The form was not complete. Go back and try again.")
	}
	on := v == "true"
	if _, _, err := h.Admin.SetMFAPolicy(h.ctx(c), h.actor(c), actorOf(c).tenant.ID, on, nil); err != nil {
		return err
	}
	flash := "removed"
	if on {
		flash = "enabled"
	}
	return c.Redirect(http.StatusSeeOther, settingsURL+"?flash="+flash)
}

func (h *Handler) confirmReset(c echo.Context) error {
	u, err := h.tenantUser(c)
	if err != nil {
		return pageErr(http.StatusNotFound, "There is no such user in your organisation.")
	}
	return h.render(c, "confirm", templates.ConfirmPage{Base: h.base(c, "Reset MFA"), Heading: "Reset two factor authentication for " + u.Email + "?",
		Message:      "Their authenticator and recovery codes stop working and they are signed out. You get a one-time enrolment code to give them: they need it to set up a new authenticator at their next sign-in.",
		Action:       "/admin/settings/users/" + url.PathEscape(u.ID) + "/reset-mfa",
		ConfirmLabel: "Reset MFA", Danger: true, CancelURL: settingsURL})
}

func (h *Handler) resetMFAForm(c echo.Context) error {
	u, err := h.tenantUser(c)
	if err != nil {
		return pageErr(http.StatusNotFound, "There is no such user in your organisation.")
	}
	r, err := h.Admin.ResetMFA(h.ctx(c), h.actor(c), u)
	if err != nil {
		return err
	}
	// The code is shown on this answer only (no redirect: it must not travel in a URL).
	return h.render(c, "reset_done", templates.ResetDonePage{Base: h.base(c, "MFA reset"), Email: u.Email, Code: r.EnrolmentCode, ExpiresAt: r.ExpiresAt})
}

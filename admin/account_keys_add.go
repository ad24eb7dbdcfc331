package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/templates"
)

// Adding a passkey or security key from the account page, as the user's own choice. The ceremony runs on
// the page itself: each render that may add a key begins a registration bound to this browser's SSO
// session, webauthn.js hands it to navigator.credentials.create, and the answer comes back to addKey.
// Who may add a key: a user with a second factor (an authenticator app or a key) after a fresh sign-in
// that proved one, as for removing a key (a password alone never adds a key to such a user); a user
// without one after a recent sign-in with the password, which is all they have (as at the sign-in's
// enrolment). While an admin's reset has left an enrolment code, only a sign-in that presents the code
// enrols (mfa refuses here).

// AccountKeys is the WebAuthn ceremony of the account page; *mfa.Keys implements it. A nil AccountKeys
// means WebAuthn is off (an IP-address issuer): no button, and the endpoint answers 404.
type AccountKeys interface {
	BeginAccountRegistration(ctx context.Context, user storage.User, sessionID string) ([]byte, error)
	FinishAccountRegistration(ctx context.Context, user storage.User, sessionID, name string, body []byte, meta mfa.Meta) (storage.WebAuthnCredential, error)
}

const (
	maxCredential = 16 << 10 // the authenticator's answer, JSON
	keyAddedFlash = "Your passkey or security key was added. You can use it the next time you sign in."
	msgKeyRefused = "No passkey or security key was added: the answer of your browser did not match this page's request. Try again."
)

// keyGate says whether the session may add a key now, and if not, where to sign in again.
type keyGate struct {
	ok          bool
	reauthURL   string
	needsFactor bool // the sign-in again must prove the second factor
}

// keyGate decides for this browser's session; hasSecondFactor is the user's standing (an active
// authenticator app or a key).
func (h *Handler) keyGate(c echo.Context, hasSecondFactor bool) keyGate {
	a := actorOf(c)
	if hasSecondFactor {
		if h.fresh(c) {
			return keyGate{ok: true}
		}
		return keyGate{reauthURL: h.freshURL(a), needsFactor: true}
	}
	s, ok := c.Get(sessionKey).(storage.Session)
	if ok && h.Now().Sub(s.AuthTime) <= freshFor {
		return keyGate{ok: true}
	}
	return keyGate{reauthURL: "/admin/signin?" + url.Values{"tenant": {a.tenant.Slug}, "next": {"account"}, "reauth": {"1"}}.Encode()}
}

// freshURL signs in again with the second factor (a user without one is led through its enrolment).
func (h *Handler) freshURL(a actor) string {
	return "/admin/signin?" + url.Values{"tenant": {a.tenant.Slug}, "next": {"account"}, "fresh": {"1"}}.Encode()
}

// keySection fills the account page's ways to add a key (and to set up an app), beginning this
// session's ceremony when it may add a key now.
func (h *Handler) keySection(c echo.Context, p *templates.AccountPage) error {
	hasSecond := p.MFAState == mfa.StateActive || len(p.Keys) > 0
	if !hasSecond {
		p.SetupAppURL = h.freshURL(actorOf(c))
	}
	if h.Keys == nil {
		return nil
	}
	p.KeysOn = true
	g := h.keyGate(c, hasSecond)
	if !g.ok {
		p.AddKeyReauthURL, p.AddKeyNeedsFactor = g.reauthURL, g.needsFactor
		return nil
	}
	u, err := h.Store.UserByID(h.ctx(c), actorOf(c).id)
	if err != nil {
		return err
	}
	s, _ := c.Get(sessionKey).(storage.Session)
	opts, err := h.Keys.BeginAccountRegistration(h.ctx(c), u, s.ID)
	if errors.Is(err, mfa.ErrEnrolmentCodeRequired) || errors.Is(err, mfa.ErrEnrolmentCodeExpired) {
		p.AddKeyCodeURL = h.freshURL(actorOf(c))
		return nil
	}
	if err != nil {
		return err
	}
	p.AddKeyOptions = string(opts)
	if h.ScriptCSP != "" {
		c.Response().Header().Set("Content-Security-Policy", h.ScriptCSP) // webauthn.js, same origin only
	}
	return nil
}

// addKey takes the authenticator's answer to this session's ceremony and stores the key.
func (h *Handler) addKey(c echo.Context) error {
	if h.Keys == nil {
		return echo.ErrNotFound
	}
	ctx := h.ctx(c)
	a := actorOf(c)
	u, err := h.Store.UserByID(ctx, a.id)
	if err != nil {
		return err
	}
	state, err := h.MFA.Status(ctx, a.id)
	if err != nil {
		return err
	}
	creds, err := h.Store.CredentialsByUser(ctx, a.id)
	if err != nil {
		return err
	}
	if g := h.keyGate(c, state == mfa.StateActive || len(creds) > 0); !g.ok {
		msg := "For your security, sign in again before adding a passkey or security key."
		if g.needsFactor {
			msg = "For your security, sign in again with your second factor before adding a passkey or security key."
		}
		return h.renderAccountView(c, accountView{status: http.StatusForbidden, keyError: msg})
	}
	name := strings.TrimSpace(c.FormValue("name"))
	if len(name) > 64 {
		return h.renderAccountView(c, accountView{status: http.StatusBadRequest, keyError: "A key's name must be at most 64 characters."})
	}
	body := []byte(c.FormValue("credential"))
	if len(body) > maxCredential {
		body = nil
	}
	s, _ := c.Get(sessionKey).(storage.Session)
	_, err = h.Keys.FinishAccountRegistration(ctx, u, s.ID, name, body, mfa.Meta{Address: c.RealIP()})
	switch {
	case errors.Is(err, mfa.ErrEnrolmentCodeRequired) || errors.Is(err, mfa.ErrEnrolmentCodeExpired):
		return h.renderAccountView(c, accountView{status: http.StatusForbidden,
			keyError: "Your administrator reset your second factor: sign in again with the enrolment code they gave you to add a key."})
	case errors.Is(err, mfa.ErrUserDisabled):
		return h.renderAccountView(c, accountView{status: http.StatusForbidden, keyError: "Your account is disabled. No key was added."})
	case refusedKey(err):
		h.Log.InfoContext(ctx, "account key refused", "err", err)
		return h.renderAccountView(c, accountView{status: http.StatusBadRequest, keyError: msgKeyRefused})
	case err != nil:
		return err
	}
	return c.Redirect(http.StatusSeeOther, accountURL+"?flash=key-added#keys")
}

func refusedKey(err error) bool {
	return errors.Is(err, mfa.ErrNoChallenge) || errors.Is(err, mfa.ErrKeyRefused) || errors.Is(err, mfa.ErrUnknownKey)
}

package browsertest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

const (
	keyEnrolPage = `form[action="/login/key-enrol"]`
	keyPage      = `form[action="/login/key"]`
	keyEnrolLink = `a[href^="/login/key-enrol"]`
	passkeyForm  = `form[action="/login/passkey"]`
)

// addAuthenticator enables the DevTools WebAuthn domain of the tab and adds a virtual platform
// authenticator (CTAP2, internal transport, resident keys, user verification). Chromium answers a
// conditional (autofill) request at once when it holds a passkey, so tests add it only where they use it.
func (tb *tab) addAuthenticator() webauthn.AuthenticatorID {
	tb.h.t.Helper()
	var id webauthn.AuthenticatorID
	tb.do("add a virtual authenticator", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		res, err := cdp.Call(ctx, t, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
		id = res.AuthenticatorID
		return err
	}))
	return id
}

// presence turns the virtual authenticator's automatic user presence on or off (off: requests wait).
func (tb *tab) presence(id webauthn.AuthenticatorID, on bool) {
	tb.h.t.Helper()
	tb.do("set user presence", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, webauthn.SetAutomaticPresenceSimulation, webauthn.SetAutomaticPresenceSimulationParams{AuthenticatorID: id, Enabled: on})
		return err
	}))
}

// TestPasskeys: under the tenant's policy a member enrols a passkey instead of an authenticator app,
// signs in with the password and the key, and then without a password through passkey autofill, at
// 1280 and 375 px.
func TestPasskeys(t *testing.T) {
	h := newHarnessOn(t, true)
	h.env.SetMFA(h.tenant.ID, true)
	for _, c := range []struct {
		w, ht int64
		email string
	}{{1280, 900, h.member.Email}, {375, 812, h.admin.Email}} {
		prefix := fmt.Sprintf("passkey-%d", c.w)
		tb := h.tab(prefix)
		tb.do("narrow the viewport", chromedp.EmulateViewport(c.w, c.ht))

		// Enrol: the enrolment page offers a passkey instead of an app.
		tb.navigate(h.demoURL + "/")
		tb.click(demoSignedOut)
		tb.signIn(c.email)
		tb.waitVisible(enrolPage)
		tb.waitVisible(keyEnrolLink)
		tb.shot(prefix + "-01-enrol-choice.png")
		tb.click(keyEnrolLink)
		tb.waitVisible(keyEnrolPage)
		tb.noHorizontalScroll("add a passkey", int(c.w))
		tb.shot(prefix + "-02-add-passkey.png")
		id := tb.addAuthenticator()
		tb.click(keyEnrolPage + submitInForm)
		if amr := tb.amr(); !slices.Equal(amr, []string{"pwd", "hwk", "user", "mfa"}) {
			tb.fatalf("after enrolling a passkey the demo app shows amr %v", amr)
		}
		tb.shot(prefix + "-03-demo-after-enrol.png")
		tb.signOutOfDemo()

		// Password and key. Presence off: the sign-in page's autofill request must wait.
		tb.presence(id, false)
		tb.click(demoSignedOut)
		tb.waitVisible(passkeyForm)
		if ac := run(tb, "read the email field's autocomplete", chromedp.AttributeValue(chromedp.CSS("#email"), "autocomplete")); ac.Value != "username webauthn" {
			tb.fatalf("email autocomplete %q", ac.Value)
		}
		tb.noHorizontalScroll("sign in", int(c.w))
		tb.shot(prefix + "-04-signin-with-passkey-button.png")
		tb.signIn(c.email)
		tb.waitVisible(keyPage)
		tb.noHorizontalScroll("use your passkey", int(c.w))
		tb.shot(prefix + "-05-use-passkey.png")
		tb.presence(id, true)
		tb.click(keyPage + submitInForm)
		if amr := tb.amr(); !slices.Equal(amr, []string{"pwd", "hwk", "user", "mfa"}) {
			tb.fatalf("password + key: the demo app shows amr %v", amr)
		}
		tb.signOutOfDemo()

		// Passwordless with the button: it ends the waiting autofill request and asks for the passkey.
		tb.presence(id, false)
		tb.click(demoSignedOut)
		tb.waitVisible(passkeyForm)
		tb.presence(id, true)
		tb.click(passkeyForm + submitInForm)
		if amr := tb.amr(); !slices.Equal(amr, []string{"hwk", "user", "mfa"}) {
			tb.fatalf("passkey button: the demo app shows amr %v", amr)
		}
		tb.shot(prefix + "-06-demo-passwordless.png")
		tb.signOutOfDemo()

		// Passwordless with autofill: the sign-in page's conditional request is answered at once.
		tb.click(demoSignedOut)
		if amr := tb.amr(); !slices.Equal(amr, []string{"hwk", "user", "mfa"}) {
			tb.fatalf("passkey autofill: the demo app shows amr %v", amr)
		}
		tb.mu.Lock()
		for _, m := range tb.console {
			if strings.Contains(m, "Content Security Policy") || strings.Contains(m, "Uncaught") {
				t.Errorf("%s: browser console: %s", prefix, m)
			}
		}
		tb.mu.Unlock()
	}
}

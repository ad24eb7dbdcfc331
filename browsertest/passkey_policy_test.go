package browsertest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
)

const acrPHR = "urn:portcullis:acr:phr"

// acr reads the acr claim the demo app shows.
func (tb *tab) acr() string {
	tb.h.t.Helper()
	tb.waitVisible("#acr")
	return strings.Trim(tb.text("#acr"), `"`)
}

// eventually evaluates a condition until it holds, for up to 10 seconds, across page loads (a
// navigation in between only makes one evaluation fail).
func (tb *tab) eventually(cond string) bool {
	tb.h.t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		cancel()
		if err == nil && ok {
			return true
		}
	}
	return false
}

// startDemoWithACR starts a sign-in to the demo app that asks for the given acr: the demo app only
// knows the MFA level, so the test starts its sign-in outside the browser, hands the demo app's
// cookie to the tab and opens the authorization URL with acr_values added.
func (tb *tab) startDemoWithACR(acr string) {
	tb.h.t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
	res, err := c.Get(tb.h.demoURL + "/login")
	if err != nil {
		tb.h.t.Fatalf("start a demo sign-in: %v", err)
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || res.StatusCode != http.StatusFound {
		tb.h.t.Fatalf("demo /login: %d %q %v", res.StatusCode, res.Header.Get("Location"), err)
	}
	for _, ck := range res.Cookies() {
		tb.do("hand the demo app's cookie to the browser", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			httpOnly := true
			_, err := cdp.Call(ctx, t, network.SetCookie, network.SetCookieParams{Name: ck.Name, Value: ck.Value, URL: tb.h.demoURL + "/",
				Path: "/", HTTPOnly: &httpOnly, SameSite: network.CookieSameSiteLax})
			return err
		}))
	}
	q := loc.Query()
	q.Set("acr_values", acr)
	loc.RawQuery = q.Encode()
	tb.navigate(loc.String())
}

// TestPasskeyPolicy: a member with an authenticator app, at 1280 and 375 px: an app demands
// phishing-resistant MFA (acr_values phr) and she adds a passkey after her code; the account page lists
// the key and removes it after a fresh sign-in with it; the tenant goes phishing-resistant only and
// she must add a key after her code again (and so must the admin, to reach the settings); then the
// admin resets her and her keys are gone.
func TestPasskeyPolicy(t *testing.T) {
	for _, c := range []struct{ w, ht int64 }{{1280, 900}, {375, 812}} {
		t.Run(fmt.Sprint(c.w), func(t *testing.T) {
			h := newHarnessOn(t, true)
			h.env.SetMFA(h.tenant.ID, true)
			ctx := context.Background()
			prefix := fmt.Sprintf("08-passkey-policy-%d", c.w)
			width := int(c.w)

			// The admin signs in to the settings first (an authenticator app), in a tab of her own.
			admin := h.tab(prefix + "-admin")
			admin.do("narrow the viewport", chromedp.EmulateViewport(c.w, c.ht))
			admin.navigate(h.env.URL + "/admin/settings/security")
			admin.signIn(h.admin.Email)
			adminTOTP := admin.enrolment()
			admin.confirmEnrolment(adminTOTP, "")
			admin.waitVisible(settingsPage)

			// Ann enrols an authenticator app under the policy (both methods allowed).
			tb := h.tab(prefix)
			tb.do("narrow the viewport", chromedp.EmulateViewport(c.w, c.ht))
			totp := tb.enrolThroughDemo(h.member.Email)
			if acr := tb.acr(); acr != "urn:portcullis:acr:mfa" {
				tb.fatalf("TOTP sign-in: acr %q", acr)
			}
			tb.signOutOfDemo()
			id := tb.addAuthenticator()

			// Step-up: the app demands phr; after her code she is offered to add a key.
			tb.startDemoWithACR(acrPHR)
			tb.signIn(h.member.Email)
			tb.waitVisible(codePage)
			h.env.Clock.Advance(time.Minute)
			tb.typeInto("#code", apptest.Code(t, totp, h.env.Clock.Now()))
			tb.click(codePage + submitInForm)
			tb.waitVisible(keyEnrolPage)
			tb.noHorizontalScroll("step-up: add a key", width)
			tb.shot(prefix + "-01-stepup-add-key.png")
			tb.click(keyEnrolPage + submitInForm)
			if acr, amr := tb.acr(), tb.amr(); acr != acrPHR || !slices.Contains(amr, "hwk") {
				tb.fatalf("after the step-up: acr %q amr %v", acr, amr)
			}
			tb.shot(prefix + "-02-stepup-demo-phr.png")
			tb.signOutOfDemo()

			// The account page lists the key; removing it needs a fresh second factor, which the
			// sign-in to the account page gives (the key is offered first). Presence off: the sign-in
			// page's autofill request waits, and she signs in with her password and the key.
			tb.presence(id, false)
			tb.navigate(h.env.URL + "/admin/account")
			tb.signIn(h.member.Email)
			tb.waitVisible(keyPage)
			tb.presence(id, true)
			tb.click(keyPage + submitInForm)
			tb.waitVisible("#keys")
			if n := run(tb, "count the keys", chromedp.Evaluate[int](`document.querySelectorAll("#keys li.key-item").length`)); n != 1 {
				tb.fatalf("the account page lists %d keys, want 1", n)
			}
			tb.noHorizontalScroll("account page with a key", width)
			tb.shot(prefix + "-03-account-keys.png")
			// Removing the key ends the sessions signed in with a key (hers came from it): the browser is
			// back at the sign-in page. Presence off, so the page's passkey autofill waits.
			tb.presence(id, false)
			tb.click(`#keys form[action$="/remove"]` + submitInForm)
			if !tb.eventually(`document.readyState === "complete" && document.querySelector('form[action="/login/password"]') !== null && document.querySelector("#keys") === null`) {
				tb.fatalf("after removing the key the browser is not back at the sign-in page")
			}
			if creds, err := h.env.Store.CredentialsByUser(ctx, h.member.ID); err != nil || len(creds) != 0 {
				tb.fatalf("keys after removal: %v %v", creds, err)
			}
			tb.shot(prefix + "-04-account-key-removed.png")

			// Phishing-resistant only: her code alone no longer does; she adds a key after it.
			if _, _, err := h.env.Store.SetMFAMethods(ctx, h.tenant.ID, []string{"webauthn"}, storage.AuditEvent{Action: "mfa.policy_changed"}); err != nil {
				t.Fatal(err)
			}
			tb.presence(id, false)
			tb.navigate(h.demoURL + "/")
			tb.click(demoSignedOut)
			tb.waitVisible(signInPage + ", " + codePage)
			if tb.has(signInPage) {
				tb.signIn(h.member.Email)
			}
			tb.waitVisible(codePage)
			h.env.Clock.Advance(time.Minute)
			tb.typeInto("#code", apptest.Code(t, totp, h.env.Clock.Now()))
			tb.click(codePage + submitInForm)
			tb.waitVisible(keyEnrolPage)
			tb.noHorizontalScroll("phishing-resistant only: add a key", width)
			tb.shot(prefix + "-05-policy-add-key.png")
			tb.presence(id, true)
			tb.click(keyEnrolPage + submitInForm)
			if acr, amr := tb.acr(), tb.amr(); acr != acrPHR || !slices.Contains(amr, "hwk") {
				tb.fatalf("phishing-resistant only: acr %q amr %v", acr, amr)
			}
			tb.shot(prefix + "-06-policy-demo-phr.png")

			// The admin resets her: her keys are gone. The admin's session from her authenticator app no
			// longer satisfies the policy either: she proves her code again and adds a key first.
			admin.navigate(h.env.URL + "/admin/settings/security")
			admin.waitVisible(codePage + ", " + keyEnrolPage)
			if admin.has(codePage) {
				h.env.Clock.Advance(time.Minute)
				admin.typeInto("#code", apptest.Code(t, adminTOTP, h.env.Clock.Now()))
				admin.click(codePage + submitInForm)
			}
			admin.waitVisible(keyEnrolPage)
			admin.addAuthenticator()
			admin.click(keyEnrolPage + submitInForm)
			admin.waitVisible(settingsPage)
			admin.shot(prefix + "-07-admin-settings.png")
			admin.click(`a[href$="/` + h.member.ID + `/reset-mfa/confirm"]`)
			admin.click(`form[action$="/reset-mfa"]` + submitInForm)
			admin.waitVisible(enrolmentCode)
			admin.shot(prefix + "-08-admin-reset-done.png")
			if creds, err := h.env.Store.CredentialsByUser(ctx, h.member.ID); err != nil || len(creds) != 0 {
				t.Fatalf("keys after the admin's reset: %v %v", creds, err)
			}
			// Her session ended with the reset: a new sign-in asks for the password, then the
			// enrolment code the admin was shown.
			tb.presence(id, false)
			tb.navigate(h.demoURL + "/login")
			tb.signIn(h.member.Email)
			tb.waitVisible(enrolCodePage)
			tb.noHorizontalScroll("enrolment code after the reset", width)
			tb.shot(prefix + "-09-after-reset-enrolment-code.png")
		})
	}
}

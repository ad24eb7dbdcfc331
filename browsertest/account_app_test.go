package browsertest

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portcullis/portcullis/app/apptest"
)

const (
	appBegin   = `#app-begin`
	appConfirm = `form[action="/admin/account/app/confirm"]`
)

// TestAccountReplaceApp: a member with an authenticator app replaces it on her account page (a new
// phone): the QR code and key show on the page, a wrong code is refused with a message, the new app's
// code replaces the old one and shows new recovery codes, and the new app signs her in to the demo app,
// at 1280 and 375 px.
func TestAccountReplaceApp(t *testing.T) {
	for _, c := range []struct{ w, ht int64 }{{1280, 900}, {375, 812}} {
		t.Run(fmt.Sprint(c.w), func(t *testing.T) {
			h := newHarness(t)
			h.env.SetMFA(h.tenant.ID, true)
			prefix := fmt.Sprintf("10-account-replace-app-%d", c.w)
			width := int(c.w)
			tb := h.tab(prefix)
			tb.do("narrow the viewport", chromedp.EmulateViewport(c.w, c.ht))
			oldKey := tb.enrolThroughDemo(h.member.Email)

			// The demo sign-in proved the code a moment ago: the account page may replace the app.
			tb.navigate(h.env.URL + "/admin/account")
			tb.waitVisible(appBegin)
			if got := tb.text(appBegin); got != "Replace authenticator app" {
				tb.fatalf("the account page offers %q", got)
			}
			tb.noHorizontalScroll("account page", width)
			tb.shot(prefix + "-01-account.png")

			tb.click(appBegin)
			tb.waitVisible(appConfirm)
			tb.waitVisible(qrImage)
			if w := run(tb, "wait for the QR code to load", chromedp.Poll[int](
				`(() => { const i = document.querySelector("img.qr-image"); return i && i.complete ? i.naturalWidth : 0 })()`,
				chromedp.WithPollingTimeout(10*time.Second))); w <= 0 {
				tb.fatalf("the QR code did not load (naturalWidth %d)", w)
			}
			newKey := decodeKey(tb, tb.text(secretText))
			link := run(tb, "read the otpauth link", chromedp.AttributeValue(chromedp.CSS(otpauthLink), "href"))
			u, err := url.Parse(link.Value)
			if err != nil || string(decodeKey(tb, u.Query().Get("secret"))) != string(newKey) || string(newKey) == string(oldKey) {
				tb.fatalf("the otpauth link %q does not hold the new key shown as text", link.Value)
			}
			tb.noHorizontalScroll("account page with the new secret", width)
			tb.shot(prefix + "-02-new-secret.png")

			tb.typeInto("#app-code", wrongCode(t, newKey, h.env.Clock.Now()))
			tb.click(appConfirm + submitInForm)
			tb.waitVisible(formError)
			if msg := tb.text(formError); !strings.Contains(msg, "didn't work") || !tb.has(appConfirm) {
				tb.fatalf("wrong code: message %q", msg)
			}
			tb.noHorizontalScroll("account page, wrong code", width)
			tb.shot(prefix + "-03-wrong-code.png")

			tb.typeInto("#app-code", apptest.Code(t, newKey, h.env.Clock.Now()))
			tb.click(appConfirm + submitInForm)
			tb.waitVisible(codesPage)
			if n := run(tb, "count the recovery codes", chromedp.Evaluate[int](`document.querySelectorAll("ol.codes li").length`)); n != 10 {
				tb.fatalf("%d recovery codes, want 10", n)
			}
			if !strings.Contains(tb.text("#app"), "Your new authenticator app is set up") {
				tb.fatalf("no success message after replacing the app")
			}
			tb.codesNotClipped("account page, new recovery codes", width)
			tb.noHorizontalScroll("account page, new recovery codes", width)
			tb.shot(prefix + "-04-replaced.png")

			// The new app signs in to the demo app (this session was kept; sign out to be asked).
			tb.navigate(h.demoURL + "/")
			tb.waitVisible(demoSignedIn + ", " + demoSignedOut)
			if tb.has(demoSignedIn) {
				tb.signOutOfDemo()
			}
			tb.click(demoSignedOut)
			tb.signIn(h.member.Email)
			tb.waitVisible(codePage)
			h.env.Clock.Advance(30 * time.Second)
			tb.typeInto("#code", apptest.Code(t, newKey, h.env.Clock.Now()))
			tb.click(codePage + submitInForm)
			if amr := tb.amr(); !slices.Contains(amr, "otp") {
				tb.fatalf("amr %v after the new app's code", amr)
			}
			tb.shot(prefix + "-05-demo-signed-in.png")

			tb.mu.Lock()
			defer tb.mu.Unlock()
			for _, m := range tb.console {
				if strings.Contains(m, "Content Security Policy") || strings.Contains(m, "Uncaught") {
					t.Errorf("browser console: %s", m)
				}
			}
		})
	}
}

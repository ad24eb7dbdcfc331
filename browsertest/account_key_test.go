package browsertest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

const (
	addKeyForm   = `form#add-key`
	signOutForm  = `form[action="/login/logout"]`
	keyItems     = `#keys li.key-item`
	keyFlashText = "Your passkey or security key was added"
)

// TestAccountAddPasskey: a member without a second factor adds a passkey on her account page (the
// ceremony runs on the page itself), sees it listed, signs out and signs in with it, at 1280 and 375 px.
func TestAccountAddPasskey(t *testing.T) {
	for _, c := range []struct{ w, ht int64 }{{1280, 900}, {375, 812}} {
		t.Run(fmt.Sprint(c.w), func(t *testing.T) {
			h := newHarnessOn(t, true)
			prefix := fmt.Sprintf("09-account-add-passkey-%d", c.w)
			width := int(c.w)
			tb := h.tab(prefix)
			tb.do("narrow the viewport", chromedp.EmulateViewport(c.w, c.ht))

			tb.navigate(h.env.URL + "/admin/account")
			tb.signIn(h.member.Email)
			tb.waitVisible(addKeyForm)
			if n := run(tb, "count the keys", chromedp.Evaluate[int](`document.querySelectorAll("`+keyItems+`").length`)); n != 0 {
				tb.fatalf("a new member has %d keys", n)
			}
			tb.noHorizontalScroll("account page, no key yet", width)
			tb.shot(prefix + "-01-account-no-key.png")

			id := tb.addAuthenticator()
			tb.typeInto("#new-key-name", "Laptop")
			tb.click(addKeyForm + submitInForm)
			if !tb.eventually(`document.readyState === "complete" && document.querySelectorAll("` + keyItems + `").length === 1`) {
				tb.fatalf("the added key is not listed")
			}
			if !strings.Contains(tb.text("#keys"), keyFlashText) {
				tb.fatalf("no success message after adding the key")
			}
			if v := run(tb, "read the key's name", chromedp.Evaluate[string](`document.querySelector("`+keyItems+` input[name=name]").value`)); v != "Laptop" {
				tb.fatalf("the key is listed as %q, want Laptop", v)
			}
			tb.noHorizontalScroll("account page with the new key", width)
			tb.shot(prefix + "-02-account-key-added.png")

			// Sign out, then sign in to the demo app with the passkey button. Presence off until then:
			// the sign-in page's autofill request must wait.
			tb.presence(id, false)
			tb.click(`a[href="/login/logout"]`)
			tb.click(signOutForm + submitInForm)
			if !tb.eventually(`document.readyState === "complete" && location.pathname === "/login/logged-out" && document.body.innerText.includes("You are signed out")`) {
				tb.fatalf("not signed out")
			}
			tb.navigate(h.demoURL + "/")
			tb.click(demoSignedOut)
			tb.waitVisible(passkeyForm)
			tb.presence(id, true)
			tb.click(passkeyForm + submitInForm)
			if amr := tb.amr(); !slices.Equal(amr, []string{"hwk", "user", "mfa"}) {
				tb.fatalf("signing in with the passkey added on the account page: amr %v", amr)
			}
			tb.shot(prefix + "-03-demo-passkey-signin.png")

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

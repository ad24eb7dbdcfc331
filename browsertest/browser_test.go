package browsertest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portcullis/portcullis/app/apptest"
)

// 0. The plainest sign-in: policy off, the demo app on another origin, email and password, and back
// in the app with an ID token that says pwd. Every other journey ends the same way.
func TestMemberSignsInWithPassword(t *testing.T) {
	h := newHarness(t)
	member := h.tab("member")
	member.navigate(h.demoURL + "/")
	member.click(demoSignedOut)
	member.signIn(h.member.Email)
	if amr := member.amr(); !slices.Equal(amr, []string{"pwd"}) {
		member.fatalf("the demo app shows amr %v, want [pwd]", amr)
	}
	if got := member.text("#method"); got != "password" {
		member.fatalf("the demo app says the member signed in with %q", got)
	}
	member.shot("00-demo-signed-in-password.png")
}

// 1. The admin turns the policy on in the account settings: sign in, "Enable two factor
// authentication", confirm, and the section says Enabled. The admin's own session came from a
// password-only sign-in, so the settings ask the admin to set up an authenticator first.
func TestAdminEnablesMFA(t *testing.T) {
	h := newHarness(t)
	admin := h.tab("admin")

	if badge := admin.openSettings("01"); badge != "Off" {
		admin.fatalf("the MFA section says %q before anything changed, want Off", badge)
	}
	admin.shot("01-settings-off.png")
	admin.click(enableLink)
	admin.waitVisible(`form[action="/admin/settings/security/mfa"]`)
	admin.shot("01-confirm-enable.png")
	admin.click(enableConfirm)

	// The policy now applies to the admin too: the settings need a sign-in with the second factor.
	admin.waitVisible(enrolPage + ", " + settingsPage)
	if admin.has(enrolPage) {
		admin.shot("01-admin-enrolment.png")
		admin.confirmEnrolment(admin.enrolment(), "")
	}
	admin.waitVisible(settingsPage)
	if badge := admin.text(settingsBadge); badge != "Enabled" {
		admin.fatalf("after confirming, the MFA section says %q, want Enabled", badge)
	}
	if !admin.has(`a[href="/admin/settings/security/mfa/confirm?enabled=false"]`) {
		admin.fatalf("no Remove button once MFA is enabled")
	}
	admin.shot("01-settings-enabled.png")
}

// 2. A member's first sign-in under the policy: the demo app sends them to Portcullis, the password
// leads to the enrolment page with a QR code and the key, a code from the key confirms it, the
// recovery codes are shown once, and the demo app gets an ID token that says otp.
func TestMemberEnrolsAtFirstSignIn(t *testing.T) {
	h := newHarness(t)
	h.env.SetMFA(h.tenant.ID, true)
	member := h.tab("member")

	member.navigate(h.demoURL + "/")
	member.waitVisible(demoSignedOut)
	member.shot("02-demo-landing.png")
	member.click(demoSignedOut)
	member.waitVisible(signInPage)
	if u := member.location(); u.Host != h.env.Host() {
		member.fatalf("Sign in with Portcullis led to %s, want Portcullis at %s", u, h.env.URL)
	}
	member.shot("02-signin.png")
	member.signIn(h.member.Email)

	key := member.enrolment()
	member.shot("02-enrolment.png")
	member.confirmEnrolment(key, "02")

	amr := member.amr()
	if !containsAll(amr, "pwd", "otp", "mfa") {
		member.fatalf("the demo app shows amr %v, want pwd, otp and mfa", amr)
	}
	if got := member.text("#acr"); got != `"urn:portcullis:acr:mfa"` {
		member.fatalf("acr %s", got)
	}
	if got := member.text("#method"); got != "password + authenticator code" {
		member.fatalf("the demo app says the member signed in with %q", got)
	}
	if got := member.text("#who-email"); got != h.member.Email {
		member.fatalf("the demo app shows %q, want %s", got, h.member.Email)
	}
	member.shot("02-demo-signed-in.png")
}

// 3. Sign-in with a code: a wrong code is refused with a message, the next step's code gets in, and
// that code does not work a second time in another sign-in within the same step.
func TestMemberSignsInWithCode(t *testing.T) {
	h := newHarness(t)
	h.env.SetMFA(h.tenant.ID, true)
	member := h.tab("member")
	key := member.enrolThroughDemo(h.member.Email)

	member.signOutOfDemo()
	member.shot("03-demo-signed-out.png")
	member.click(demoSignedOut)
	member.signIn(h.member.Email) // the sign-out ended Portcullis's session too
	member.waitVisible(codePage)
	member.shot("03-code.png")

	member.typeInto("#code", wrongCode(t, key, h.env.Clock.Now()))
	member.click(codePage + submitInForm)
	member.waitVisible(formError)
	if msg := member.text(formError); !strings.Contains(msg, "didn't work") {
		member.fatalf("wrong code message %q", msg)
	}
	if !member.has(codePage) {
		member.fatalf("a wrong code left the code page")
	}
	member.shot("03-code-wrong.png")

	h.env.Clock.Advance(30 * time.Second) // a fresh step: the enrolment's code is spent
	code := apptest.Code(t, key, h.env.Clock.Now())
	member.typeInto("#code", code)
	member.click(codePage + submitInForm)
	if amr := member.amr(); !slices.Contains(amr, "otp") {
		member.fatalf("amr %v after the code, want otp", amr)
	}
	member.shot("03-demo-signed-in.png")

	// The same code in a new sign-in, within the same step.
	member.signOutOfDemo()
	member.click(demoSignedOut)
	member.signIn(h.member.Email)
	member.waitVisible(codePage)
	member.typeInto("#code", code)
	member.click(codePage + submitInForm)
	member.waitVisible(formError)
	if !member.has(codePage) || member.has(demoSignedIn) {
		member.fatalf("a used code signed the member in again")
	}
	member.shot("03-code-replayed.png")
}

// 4. The admin removes the policy; the member, who has an authenticator, signs in with the password
// alone.
func TestAdminRemovesMFA(t *testing.T) {
	h := newHarness(t)
	h.env.SetMFA(h.tenant.ID, true)
	member := h.tab("member")
	member.enrolThroughDemo(h.member.Email)
	member.signOutOfDemo()

	admin := h.tab("admin")
	if badge := admin.openSettings(""); badge != "Enabled" {
		admin.fatalf("the MFA section says %q, want Enabled", badge)
	}
	admin.click(removeLink)
	admin.waitVisible(`form[action="/admin/settings/security/mfa"]`)
	admin.shot("04-confirm-remove.png")
	admin.click(removeConfirm)
	admin.waitVisible(`.alert-success`)
	if badge := admin.text(settingsBadge); badge != "Off" {
		admin.fatalf("after removing, the MFA section says %q, want Off", badge)
	}
	admin.shot("04-settings-off.png")

	member.click(demoSignedOut)
	member.signIn(h.member.Email)
	member.waitVisible(anyAfterSignIn)
	if amr := member.amr(); !slices.Equal(amr, []string{"pwd"}) {
		member.fatalf("with the policy off the demo app shows amr %v, want [pwd]", amr)
	}
	if got := member.text("#method"); got != "password" {
		member.fatalf("the demo app says the member signed in with %q", got)
	}
	member.shot("04-demo-password-only.png")
}

// 5. What password managers need, checked in the DOM: the sign-in page's fields say username and
// current-password; the code pages have exactly one code field, labelled "Verification code", for
// one-time codes, numeric, with the account's username beside it.
func TestFieldsForPasswordManagers(t *testing.T) {
	h := newHarness(t)
	h.env.SetMFA(h.tenant.ID, true)
	member := h.tab("member")

	type fields struct {
		Email       string `json:"email"`
		Password    string `json:"password"`
		CodeInputs  int    `json:"codeInputs"`
		Code        string `json:"code"`
		InputMode   string `json:"inputmode"`
		Label       string `json:"label"`
		Username    string `json:"username"`
		HasUsername bool   `json:"hasUsername"`
	}
	read := func() fields {
		t.Helper()
		return run(member, "read the fields", chromedp.Evaluate[fields](`(() => {
			const attr = (sel, name) => { const el = document.querySelector(sel); return el ? (el.getAttribute(name) || "") : ""; };
			return {
				email: attr("#email", "autocomplete"),
				password: attr("#password", "autocomplete"),
				codeInputs: document.querySelectorAll('input[name="code"]').length,
				code: attr('input[name="code"]', "autocomplete"),
				inputmode: attr('input[name="code"]', "inputmode"),
				label: (() => { const c = document.querySelector('input[name="code"]'); return c && c.labels.length ? c.labels[0].textContent.trim() : ""; })(),
				username: attr('input[autocomplete="username"]', "value"),
				hasUsername: document.querySelector('input[autocomplete="username"]') !== null,
			};
		})()`))
	}
	codeFields := func(page string) {
		t.Helper()
		f := read()
		if f.CodeInputs != 1 || f.Code != "one-time-code" || f.InputMode != "numeric" {
			t.Errorf("%s: %d code inputs, autocomplete %q, inputmode %q; want 1, one-time-code, numeric", page, f.CodeInputs, f.Code, f.InputMode)
		}
		if f.Label != "Verification code" {
			t.Errorf("%s: the code field is labelled %q, want \"Verification code\" (the help article's words)", page, f.Label)
		}
		if f.Password != "" {
			t.Errorf("%s has a password field", page)
		}
		if !f.HasUsername || f.Username != h.member.Email {
			t.Errorf("%s: the username field for password managers holds %q, want %s", page, f.Username, h.member.Email)
		}
	}

	member.navigate(h.demoURL + "/")
	member.click(demoSignedOut)
	member.waitVisible(signInPage)
	if f := read(); f.Email != "username" || f.Password != "current-password" || f.CodeInputs != 0 {
		t.Errorf("sign-in page: email autocomplete %q, password autocomplete %q, %d code inputs; want username, current-password, 0",
			f.Email, f.Password, f.CodeInputs)
	}
	member.signIn(h.member.Email)
	key := member.enrolment()
	codeFields("enrolment page")
	member.confirmEnrolment(key, "")
	member.amr()

	member.signOutOfDemo()
	member.click(demoSignedOut)
	member.signIn(h.member.Email)
	member.waitVisible(codePage)
	codeFields("code page")

	member.click(recoveryLink)
	member.waitVisible(recoveryPage)
	if f := read(); f.CodeInputs != 1 {
		t.Errorf("recovery code page: %d code inputs, want 1", f.CodeInputs)
	}
}

// 6. At 375px (a small phone) no page scrolls sideways: sign-in, enrolment, recovery codes, code,
// recovery code, the account settings and their confirm page, and the demo app.
func TestPagesFitAPhone(t *testing.T) {
	h := newHarness(t)
	const width = 375
	phone := func(name string) *tab {
		tb := h.tab(name)
		tb.do("emulate a phone", chromedp.EmulateViewport(width, 800, chromedp.EmulateMobile))
		return tb
	}
	check := func(tb *tab, sel, page string) {
		t.Helper()
		tb.waitVisible(sel)
		tb.noHorizontalScroll(page, width)
		tb.shot("06-375-" + page + ".png")
	}

	admin := phone("admin")
	admin.navigate(h.env.URL + "/admin/settings/security")
	check(admin, signInPage, "signin")
	admin.signIn(h.admin.Email)
	check(admin, settingsPage, "settings")
	admin.click(enableLink)
	check(admin, `form[action="/admin/settings/security/mfa"]`, "confirm")
	admin.click(enableConfirm)
	admin.waitVisible(enrolPage)
	check(admin, enrolPage, "enrolment")
	admin.confirmEnrolment(admin.enrolment(), "")
	check(admin, settingsPage, "settings-enabled")

	member := phone("member")
	member.navigate(h.demoURL + "/")
	check(member, demoSignedOut, "demo-landing")
	member.click(demoSignedOut)
	member.signIn(h.member.Email)
	key := member.enrolment()
	member.typeInto("#code", apptest.Code(t, key, h.env.Clock.Now()))
	member.click(enrolPage + submitInForm)
	check(member, codesPage, "recovery-codes")
	member.codesNotClipped("recovery codes", width)
	member.click(continueLink)
	check(member, demoSignedIn, "demo-signed-in")

	member.signOutOfDemo()
	member.click(demoSignedOut)
	member.signIn(h.member.Email)
	check(member, codePage, "code")
	member.typeInto("#code", wrongCode(t, key, h.env.Clock.Now()))
	member.click(codePage + submitInForm)
	check(member, formError, "code-wrong")
	member.click(recoveryLink)
	check(member, recoveryPage, "recovery")

	// The admin resets the member's authenticator: the page shows the one-time enrolment code, and
	// the member's next sign-in asks for it before any secret.
	admin.navigate(h.env.URL + "/admin/settings/security")
	admin.click(`a[href$="/` + h.member.ID + `/reset-mfa/confirm"]`)
	admin.click(`form[action$="/reset-mfa"]` + submitInForm)
	check(admin, enrolmentCode, "reset-done")
	code := admin.text(enrolmentCode)
	member.navigate(h.demoURL + "/")
	member.click(demoSignedOut)
	member.signIn(h.member.Email)
	check(member, enrolCodePage, "enrolment-code")
	member.typeInto("#enrolment_code", code)
	member.click(enrolCodePage + submitInForm)
	check(member, enrolPage, "enrolment-after-reset")
}

// wrongCode is a code that is not valid in the steps around at (so the test never guesses right).
func wrongCode(t *testing.T, key []byte, at time.Time) string {
	t.Helper()
	valid := []string{apptest.Code(t, key, at.Add(-30*time.Second)), apptest.Code(t, key, at), apptest.Code(t, key, at.Add(30*time.Second))}
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if !slices.Contains(valid, c) {
			return c
		}
	}
	panic("unreachable: four codes cannot all be among three")
}

func TestFindChromium(t *testing.T) {
	tests := []struct {
		name   string
		env    string
		debian bool
		want   string
	}{
		{name: "the variable wins", env: "/opt/chrome/chrome", debian: true, want: "/opt/chrome/chrome"},
		{name: "Debian's package", debian: true, want: debianChromium},
		{name: "none", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "PORTCULLIS_TEST_CHROMIUM" {
					return tc.env
				}
				return ""
			}
			exists := func(p string) bool { return tc.debian && p == debianChromium }
			if got := findChromium(getenv, exists); got != tc.want {
				t.Errorf("findChromium = %q, want %q", got, tc.want)
			}
		})
	}
}

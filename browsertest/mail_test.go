package browsertest

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/portcullis/portcullis/app"
	"github.com/portcullis/portcullis/mail/mailtest"
)

// The pages of the account lifecycle by email, in the real browser at 375 px: forgotten password
// (request, link, new password), an invitation (settings form, link, choose a password, the account
// page) and the change of password on the account page. Mail goes through the outbox to a real
// (in-process) SMTP server; the links come from the messages it received.
func TestAccountPagesByEmailFitAPhone(t *testing.T) {
	smtp := mailtest.Start(t, mailtest.Plain)
	h := newHarnessOn(t, false, func(c *app.Config) { c.Mail.SMTP.URL = smtp.URL() })
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
		tb.shot("07-375-" + page + ".png")
	}
	link := func(to string) string {
		t.Helper()
		h.env.App.Mail.RunOnce(context.Background())
		msgs := smtp.To(to)
		if len(msgs) == 0 || msgs[len(msgs)-1].Link() == "" {
			t.Fatalf("no mail with a link to %s: %+v", to, msgs)
		}
		return msgs[len(msgs)-1].Link()
	}

	// Forgotten password: the member asks from the sign-in page, follows the emailed link and
	// chooses a new password.
	member := phone("member")
	member.navigate(h.demoURL + "/")
	member.click(demoSignedOut)
	member.waitVisible(signInPage)
	member.click(`a[href^="/login/forgot"]`)
	check(member, `form[action="/login/forgot"]`, "forgot")
	member.typeInto("#email", h.member.Email)
	member.click(`form[action="/login/forgot"]` + submitInForm)
	check(member, `.status-icon-success`, "forgot-sent") // the reset pages have a .card-title too
	member.navigate(link(h.member.Email))
	check(member, `form[action="/login/reset"]`, "reset")
	// Not containing the email's local part ("ann"), which the password policy refuses.
	const newPassword = "a brand new passphrase for the member"
	member.typeInto("#password", newPassword)
	member.typeInto("#password_confirm", newPassword)
	member.click(`form[action="/login/reset"]` + submitInForm)
	check(member, `.status-icon-success`, "reset-done")
	if got := member.text(".card-title"); got != "Your password is changed" {
		t.Errorf("after the reset: %q, want the password changed", got)
	}

	// An invitation from the settings page; the invited user chooses a password and lands on the
	// account page, where the password can be changed.
	admin := phone("admin")
	admin.navigate(h.env.URL + "/admin/settings/security")
	admin.signIn(h.admin.Email)
	admin.waitVisible(settingsPage)
	admin.typeInto("#invite-email", "newcomer@acme.test")
	admin.click(`form[action="/admin/settings/users/invite"]` + submitInForm)
	check(admin, `[role="status"]`, "invited")

	newcomer := phone("newcomer")
	newcomer.navigate(link("newcomer@acme.test"))
	check(newcomer, `form[action="/login/invite"]`, "invitation")
	newcomer.typeInto("#password", "correct horse staple battery")
	newcomer.typeInto("#password_confirm", "correct horse staple battery")
	newcomer.click(`form[action="/login/invite"]` + submitInForm)
	check(newcomer, `form[action="/admin/account/password"]`, "account-password")
	newcomer.typeInto("#current_password", "correct horse staple battery")
	newcomer.typeInto("#new_password", "purple mountain river tea")
	newcomer.typeInto("#new_password_confirm", "purple mountain river tea")
	newcomer.click(`form[action="/admin/account/password"]` + submitInForm)
	newcomer.waitVisible(`form[action="/admin/account/password"]`)
	check(newcomer, `[role="status"]`, "password-changed")
}

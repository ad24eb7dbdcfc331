package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

const settingsPath = "/admin/settings/security"

// pagesEnv is one tenant (the only one, so /admin/signin needs no ?tenant=) with an admin and members.
type pagesEnv struct {
	env      *apptest.Env
	st       *storage.Store
	ten      storage.Tenant
	admin    storage.User
	ann, bob storage.User
	appRP    *apptest.RP
}

func newPagesEnv(t *testing.T, st *storage.Store) *pagesEnv {
	t.Helper()
	env := apptest.New(t, st)
	ten := env.Tenant("Acme")
	p := &pagesEnv{env: env, st: st, ten: ten}
	p.admin = env.User(ten.ID, "boss@acme.test", pw, storage.RoleAdmin)
	p.ann = env.User(ten.ID, "ann@acme.test", pw, storage.RoleMember)
	p.bob = env.User(ten.ID, "bob@acme.test", pw, storage.RoleMember)
	c, sec := env.Client(ten.ID, apptest.ClientOptions{})
	p.appRP = env.RP(c, sec)
	return p
}

// openSettings opens the settings in b, which must end on the sign-in form (signed out).
func (pe *pagesEnv) openSettings(t *testing.T, b *apptest.Browser) *apptest.Page {
	t.Helper()
	p := b.Get(pe.env.URL + settingsPath)
	if p.Status != 200 || !strings.HasPrefix(p.URL.Path, "/login") {
		t.Fatalf("signed out, the settings led to %d %s, want the sign-in form", p.Status, p.URL)
	}
	p.Form(t, "/login/password")
	return p
}

// signInToSettings opens the settings signed out and signs in with the password; it returns the page
// that leads to (the settings, or the second step when the policy asks for it).
func (pe *pagesEnv) signInToSettings(t *testing.T, b *apptest.Browser, email string) *apptest.Page {
	t.Helper()
	p := pe.openSettings(t, b)
	return b.Submit(p, "/login/password", map[string]string{"email": email, "password": pw})
}

// enrolOn completes an enrolment page and follows the continue link.
func enrolOn(t *testing.T, env *apptest.Env, b *apptest.Browser, p *apptest.Page) ([]byte, *apptest.Page) {
	t.Helper()
	if !strings.HasPrefix(p.URL.Path, "/login/enrol") {
		t.Fatalf("at %s (%d), want the enrolment page", p.URL, p.Status)
	}
	secret := apptest.EnrolmentSecret(t, p)
	p = b.Submit(p, "/login/enrol", map[string]string{"code": apptest.Code(t, secret, env.Clock.Now())})
	if p.Status != 200 {
		t.Fatalf("confirming the enrolment: %d %s", p.Status, p.URL)
	}
	return secret, b.Get(continueURL(t, p))
}

func wantSettings(t *testing.T, p *apptest.Page) {
	t.Helper()
	if p.Status != 200 || p.URL.Path != settingsPath || !strings.Contains(p.Body, "Multi-factor authentication") {
		t.Fatalf("want the settings page, got %d %s:\n%s", p.Status, p.URL, p.Body)
	}
	if !strings.Contains(p.Body, `<span class="panel-kicker">MFA</span> Multi-factor authentication`) {
		t.Errorf("no \"MFA Multi-factor authentication\" section")
	}
	if cc := p.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("settings Cache-Control %q", cc)
	}
	if p.Header.Get("Content-Security-Policy") == "" || p.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("settings page without the page security headers")
	}
}

// wantPolicyShown checks the MFA section shows the policy state.
func wantPolicyShown(t *testing.T, p *apptest.Page, on bool) {
	t.Helper()
	enabledLabel := strings.Contains(p.Body, `<span class="badge badge-success">Enabled</span>`)
	removeLink := strings.Contains(p.Body, `href="/admin/settings/security/mfa/confirm?enabled=false"`) && strings.Contains(p.Body, ">Remove</a>")
	enableLink := strings.Contains(p.Body, `href="/admin/settings/security/mfa/confirm?enabled=true"`) &&
		strings.Contains(p.Body, "Enable two factor authentication")
	if on != enabledLabel || on != removeLink || on == enableLink {
		t.Errorf("policy %t: Enabled label %t, Remove link %t, Enable link %t", on, enabledLabel, removeLink, enableLink)
	}
}

// userRow returns the settings table row of the user.
func userRow(t *testing.T, p *apptest.Page, email string) string {
	t.Helper()
	for _, row := range strings.Split(p.Body, "<tr>") {
		if strings.Contains(row, `<span class="user-email">`+email+`</span>`) {
			return row
		}
	}
	t.Fatalf("no row for %s on the settings page", email)
	return ""
}

// confirmAndSubmit opens a confirm link from page p and submits its form (with its CSRF token).
func confirmAndSubmit(t *testing.T, b *apptest.Browser, p *apptest.Page, link, action string) (confirm, after *apptest.Page) {
	t.Helper()
	if !strings.Contains(p.Body, `href="`+link+`"`) {
		t.Fatalf("no link to %s on %s", link, p.URL)
	}
	u, _ := p.URL.Parse(link)
	confirm = b.Get(u.String())
	if confirm.Status != 200 {
		t.Fatalf("confirm page %s: %d", link, confirm.Status)
	}
	f := confirm.Form(t, action)
	if f.Fields.Get("_csrf") == "" {
		t.Fatalf("the confirm form has no CSRF token")
	}
	return confirm, b.Submit(confirm, action, nil)
}

func TestAdminPagesSignedOutGoesToSignIn(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		pe := newPagesEnv(t, st)
		// Step by step, without following redirects.
		r := get(t, pe.env.URL+settingsPath, nil)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/admin/signin" {
			t.Fatalf("signed out: %d to %q, want 303 to /admin/signin", r.Status, r.Header.Get("Location"))
		}
		r = get(t, pe.env.URL+"/admin/signin", nil)
		loc, _ := url.Parse(r.Header.Get("Location"))
		if r.Status != http.StatusSeeOther || loc == nil || loc.Path != authorizePath || loc.Query().Get("client_id") != "console-"+pe.ten.ID ||
			loc.Query().Get("redirect_uri") != pe.env.URL+"/admin/callback" {
			t.Fatalf("/admin/signin: %d to %q", r.Status, r.Header.Get("Location"))
		}
		for path, want := range map[string]string{"/admin": settingsPath, "/admin/": settingsPath, "/admin/settings": "/admin/signin",
			"/admin/settings/security/mfa/confirm?enabled=true": "/admin/signin"} {
			r := get(t, pe.env.URL+path, nil)
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != want {
				t.Errorf("%s: %d to %q, want %s", path, r.Status, r.Header.Get("Location"), want)
			}
		}
		// A browser ends on the sign-in form; signing in there lands on the settings.
		b := pe.env.NewBrowser()
		p := pe.signInToSettings(t, b, pe.admin.Email)
		wantSettings(t, p)
		wantPolicyShown(t, p, false)
		if !strings.Contains(p.Body, pe.admin.Email) || !strings.Contains(p.Body, pe.ten.Name) {
			t.Error("the settings page does not name the admin and the tenant")
		}
		// Signed in, the settings open directly.
		wantSettings(t, b.Get(pe.env.URL+"/admin"))
	})
}

func TestAdminPagesEnableAndRemoveMFA(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		pe := newPagesEnv(t, st)
		env := pe.env
		ctx := context.Background()
		b := env.NewBrowser()
		p := pe.signInToSettings(t, b, pe.admin.Email)
		wantSettings(t, p)
		wantPolicyShown(t, p, false)

		confirm, p := confirmAndSubmit(t, b, p, "/admin/settings/security/mfa/confirm?enabled=true", "/admin/settings/security/mfa")
		if !strings.Contains(confirm.Body, "Enable two factor authentication?") || confirm.Form(t, "/admin/settings/security/mfa").Fields.Get("enabled") != "true" {
			t.Errorf("the confirm page does not ask to enable:\n%s", confirm.Body)
		}
		ten, _ := st.TenantByID(ctx, pe.ten.ID)
		if !ten.MFAEnabled || ten.MFAUpdatedBy != pe.admin.ID {
			t.Fatalf("after confirming: enabled %t by %q", ten.MFAEnabled, ten.MFAUpdatedBy)
		}
		evs := auditEvents(t, st, pe.ten.ID, "mfa.policy_changed")
		if len(evs) != 1 || evs[0].ActorID != pe.admin.ID || evs[0].Detail["old"] != false || evs[0].Detail["new"] != true ||
			evs[0].Detail["actor_email"] != pe.admin.Email {
			t.Fatalf("audit events %+v", evs)
		}
		// The policy applies to the admin at once: the session has the password only, so the
		// admin sets up an authenticator before seeing the settings again.
		_, p = enrolOn(t, env, b, p)
		wantSettings(t, p)
		wantPolicyShown(t, p, true)
		if !strings.Contains(p.Body, "Two factor authentication is on.") {
			t.Error("the confirmation message was lost on the way through enrolment")
		}
		if !strings.Contains(p.Body, "mfa.policy_changed") {
			t.Error("the recent activity does not show the change")
		}
		if !strings.Contains(userRow(t, p, pe.admin.Email), "Active") {
			t.Errorf("the admin's row does not show MFA active")
		}

		// Remove.
		confirm, p = confirmAndSubmit(t, b, p, "/admin/settings/security/mfa/confirm?enabled=false", "/admin/settings/security/mfa")
		if !strings.Contains(confirm.Body, "Remove two factor authentication?") {
			t.Errorf("the confirm page does not ask to remove")
		}
		wantSettings(t, p)
		wantPolicyShown(t, p, false)
		if !strings.Contains(p.Body, "Two factor authentication is off") {
			t.Error("no confirmation message")
		}
		if ten, _ := st.TenantByID(ctx, pe.ten.ID); ten.MFAEnabled {
			t.Fatal("the policy is still on")
		}
		evs = auditEvents(t, st, pe.ten.ID, "mfa.policy_changed")
		if len(evs) != 2 || evs[0].Detail["old"] != true || evs[0].Detail["new"] != false || evs[0].ActorID != pe.admin.ID {
			t.Fatalf("audit events after removing %+v", evs)
		}
		// Members sign in with the password only again.
		a, code := pe.appRP.SignIn(env.NewBrowser(), pe.ann.Email, pw)
		if _, err := pe.appRP.Exchange(code, a); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAdminPagesCSRF(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		pe := newPagesEnv(t, st)
		env := pe.env
		b := env.NewBrowser()
		wantSettings(t, pe.signInToSettings(t, b, pe.admin.Email))
		// Give bob an authenticator so that a reset would show.
		env.SetMFA(pe.ten.ID, true)
		bobBrowser := env.NewBrowser()
		a := pe.appRP.Start()
		enrolOn(t, env, bobBrowser, bobBrowser.Submit(bobBrowser.Get(a.URL), "/login/password", map[string]string{"email": pe.bob.Email, "password": pw}))
		env.SetMFA(pe.ten.ID, false)

		for _, tc := range []struct {
			name, path string
			form       url.Values
		}{
			{"policy without a token", "/admin/settings/security/mfa", url.Values{"enabled": {"true"}}},
			{"policy with a wrong token", "/admin/settings/security/mfa", url.Values{"enabled": {"true"}, "_csrf": {"forged-token-value"}}},
			{"reset without a token", "/admin/settings/users/" + pe.bob.ID + "/reset-mfa", url.Values{}},
			{"reset with a wrong token", "/admin/settings/users/" + pe.bob.ID + "/reset-mfa", url.Values{"_csrf": {"forged-token-value"}}},
		} {
			before := snapshot(t, st, pe.ten.ID)
			p := b.Post(env.URL+tc.path, tc.form)
			if p.Status != http.StatusForbidden || !strings.Contains(p.Header.Get("Content-Type"), "text/html") {
				t.Errorf("%s: %d %s, want a 403 page", tc.name, p.Status, p.Header.Get("Content-Type"))
			}
			wantUnchanged(t, tc.name, before, snapshot(t, st, pe.ten.ID))
		}
		// A signed-out browser with the form gets nothing either.
		before := snapshot(t, st, pe.ten.ID)
		if p := env.NewBrowser().Post(env.URL+"/admin/settings/security/mfa", url.Values{"enabled": {"true"}}); p.Status/100 == 2 && p.URL.Path == settingsPath {
			t.Errorf("signed out POST reached the settings")
		}
		wantUnchanged(t, "signed-out POST", before, snapshot(t, st, pe.ten.ID))
		// A bad value with a good token changes nothing.
		p := b.Get(env.URL + "/admin/settings/security/mfa/confirm?enabled=true")
		if p := b.Submit(p, "/admin/settings/security/mfa", map[string]string{"enabled": "maybe"}); p.Status != http.StatusBadRequest {
			t.Errorf("enabled=maybe: %d", p.Status)
		}
		wantUnchanged(t, "enabled=maybe", before, snapshot(t, st, pe.ten.ID))
	})
}

func TestAdminPagesMemberGetsForbidden(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		pe := newPagesEnv(t, st)
		b := pe.env.NewBrowser()
		p := b.Get(pe.env.URL + "/admin")
		p = b.Submit(p, "/login/password", map[string]string{"email": pe.ann.Email, "password": pw})
		if p.Status != http.StatusForbidden || !strings.Contains(p.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("member: %d %s at %s", p.Status, p.Header.Get("Content-Type"), p.URL)
		}
		if !strings.Contains(p.Body, "admins") || strings.Contains(p.Body, "Multi-factor authentication") {
			t.Errorf("the member's 403 page:\n%s", p.Body)
		}
		before := snapshot(t, st, pe.ten.ID)
		for _, path := range []string{"/admin/settings/security/mfa/confirm?enabled=true", "/admin/settings/users/" + pe.bob.ID + "/reset-mfa/confirm"} {
			if p := b.Get(pe.env.URL + path); p.Status != http.StatusForbidden {
				t.Errorf("member GET %s: %d", path, p.Status)
			}
		}
		// Even with a valid CSRF token (the browser's own: the sign-out form's, which binds to the
		// session as the settings forms do), the member cannot post.
		tok := b.Get(pe.env.URL + "/login/logout").CSRFToken()
		if tok == "" {
			t.Fatal("the member's sign-out page has no CSRF token")
		}
		if q := b.Post(pe.env.URL+"/admin/settings/security/mfa", url.Values{"enabled": {"true"}, "_csrf": {tok}}); q.Status != http.StatusForbidden || !strings.Contains(q.Body, "admins") {
			t.Errorf("member POST with a CSRF token: %d", q.Status)
		}
		if q := b.Post(pe.env.URL+"/admin/settings/users/"+pe.bob.ID+"/reset-mfa", url.Values{"_csrf": {tok}}); q.Status != http.StatusForbidden {
			t.Errorf("member reset POST with a CSRF token: %d", q.Status)
		}
		wantUnchanged(t, "member", before, snapshot(t, st, pe.ten.ID))
	})
}

// With the policy on, an admin whose SSO session has the password only takes the second step first.
func TestAdminPagesStepUp(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		pe := newPagesEnv(t, st)
		env := pe.env

		// Not enrolled yet: the enrolment.
		b := env.NewBrowser()
		wantSettings(t, pe.signInToSettings(t, b, pe.admin.Email))
		env.SetMFA(pe.ten.ID, true)
		p := b.Get(env.URL + settingsPath)
		secret, p := enrolOn(t, env, b, p)
		wantSettings(t, p)

		// Enrolled: a password-only session (from while the policy was off) is asked for the code.
		env.SetMFA(pe.ten.ID, false)
		b2 := env.NewBrowser()
		wantSettings(t, pe.signInToSettings(t, b2, pe.admin.Email))
		env.SetMFA(pe.ten.ID, true)
		p = b2.Get(env.URL + settingsPath)
		if !strings.HasPrefix(p.URL.Path, "/login/otp") {
			t.Fatalf("password-only session under the policy went to %s (%d), want the code page", p.URL, p.Status)
		}
		// Nothing of the settings is reachable before the code.
		if q := b2.Get(env.URL + "/admin/settings/security/mfa/confirm?enabled=false"); q.URL.Path != "/login/otp" {
			t.Errorf("the confirm page before the code: %s", q.URL)
		}
		env.Clock.Advance(30 * time.Second) // the enrolment's code is spent
		p = b2.Submit(p, "/login/otp", map[string]string{"code": apptest.Code(t, secret, env.Clock.Now())})
		wantSettings(t, p)
		wantPolicyShown(t, p, true)

		// A signed-in admin with both factors goes straight in.
		wantSettings(t, b2.Get(env.URL+settingsPath))
	})
}

func TestAdminPagesResetMFA(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		pe := newPagesEnv(t, st)
		env := pe.env
		ctx := context.Background()
		env.SetMFA(pe.ten.ID, true)

		// Ann enrols through the app and keeps an SSO session; the admin enrols through the settings.
		annBrowser := env.NewBrowser()
		a := pe.appRP.Start()
		_, p := enrolOn(t, env, annBrowser, annBrowser.Submit(annBrowser.Get(a.URL), "/login/password", map[string]string{"email": pe.ann.Email, "password": pw}))
		annTok, err := pe.appRP.Exchange(a.Code(t, p), a)
		if err != nil {
			t.Fatal(err)
		}
		b := env.NewBrowser()
		_, p = enrolOn(t, env, b, pe.signInToSettings(t, b, pe.admin.Email))
		wantSettings(t, p)

		if row := userRow(t, p, pe.ann.Email); !strings.Contains(row, "Active") || !strings.Contains(row, "/reset-mfa/confirm") {
			t.Errorf("ann's row: %s", row)
		}
		if row := userRow(t, p, pe.bob.Email); !strings.Contains(row, "None") || strings.Contains(row, "/reset-mfa/confirm") {
			t.Errorf("bob's row (no authenticator, no reset): %s", row)
		}

		confirm, p := confirmAndSubmit(t, b, p, "/admin/settings/users/"+pe.ann.ID+"/reset-mfa/confirm", "/admin/settings/users/"+pe.ann.ID+"/reset-mfa")
		if !strings.Contains(confirm.Body, pe.ann.Email) {
			t.Error("the confirm page does not name the user")
		}
		// The answer shows the enrolment code once (not in a URL), then the settings again.
		code := strings.TrimSpace(stripTags(p.Find("enrolment-code", "")))
		if p.URL.Path != "/admin/settings/users/"+pe.ann.ID+"/reset-mfa" || len(code) != 19 || !strings.Contains(p.Body, pe.ann.Email) {
			t.Fatalf("reset answer %s: code %q\n%s", p.URL, code, p.Body)
		}
		if p.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("the enrolment code page may be cached: %q", p.Header.Get("Cache-Control"))
		}
		p = b.Get(env.URL + settingsPath)
		wantSettings(t, p)
		if row := userRow(t, p, pe.ann.Email); !strings.Contains(row, "None") {
			t.Errorf("ann's row after the reset: %s", row)
		}
		if _, err := st.AuthenticatorByUser(ctx, pe.ann.ID); err == nil {
			t.Error("ann's authenticator survived the reset")
		}
		if evs := auditEvents(t, st, pe.ann.TenantID, "mfa.reset"); len(evs) != 1 || evs[0].TargetID != pe.ann.ID || evs[0].ActorID != pe.admin.ID {
			t.Errorf("reset events %+v", evs)
		}
		wantBearerInvalid(t, "ann's token after the reset", userinfo(t, env, annTok.AccessToken))
		// Ann's SSO session is gone; after the password she enrols again.
		p = annBrowser.Get(pe.appRP.Start().URL)
		p = annBrowser.Submit(p, "/login/password", map[string]string{"email": pe.ann.Email, "password": pw})
		if !strings.HasPrefix(p.URL.Path, "/login/enrol") || strings.Contains(p.Body, "otpauth://") {
			t.Errorf("ann after the reset: %s, want the enrolment code page", p.URL)
		}
		if p = annBrowser.Submit(p, "/login/enrol-code", map[string]string{"enrolment_code": code}); !strings.Contains(p.Body, "otpauth://") {
			t.Errorf("ann with the enrolment code: %d %s, want the secret to scan", p.Status, p.URL)
		}
		// The admin is still signed in, and an unknown user is a 404 page.
		wantSettings(t, b.Get(env.URL+settingsPath))
		if p := b.Get(env.URL + "/admin/settings/users/nobody/reset-mfa/confirm"); p.Status != http.StatusNotFound {
			t.Errorf("unknown user: %d", p.Status)
		}
		other := env.Tenant("Other")
		ou := env.User(other.ID, "x@other.test", pw, storage.RoleMember)
		if p := b.Get(env.URL + "/admin/settings/users/" + ou.ID + "/reset-mfa/confirm"); p.Status != http.StatusNotFound {
			t.Errorf("another tenant's user: %d", p.Status)
		}
	})
}

// Changing authentication settings needs a recent sign-in (ASVS 7.5.1): after 15 minutes the admin
// signs in again (the password form, even with a live session) before the confirm page, and a POST on a
// stale session changes nothing.
func TestAdminPagesChangesNeedARecentSignIn(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		pe := newPagesEnv(t, st)
		b := pe.env.NewBrowser()
		p := pe.signInToSettings(t, b, pe.admin.Email)
		wantSettings(t, p)
		confirm := b.Get(pe.env.URL + "/admin/settings/security/mfa/confirm?enabled=true")
		form := confirm.Form(t, "/admin/settings/security/mfa")

		pe.env.Clock.Advance(16 * time.Minute)
		if q := b.Post(pe.env.URL+"/admin/settings/security/mfa", form.Fields); q.Status != 403 {
			t.Fatalf("a change on a stale sign-in: %d", q.Status)
		}
		if ten, _ := st.TenantByID(context.Background(), pe.ten.ID); ten.MFAEnabled {
			t.Fatal("the stale POST turned MFA on")
		}
		q := b.Get(pe.env.URL + "/admin/settings/security/mfa/confirm?enabled=true")
		if !strings.HasPrefix(q.URL.Path, "/login") || len(q.Forms()) == 0 {
			t.Fatalf("stale confirm went to %s, want the password form", q.URL)
		}
		q = b.Submit(q, "/login/password", map[string]string{"email": pe.admin.Email, "password": pw})
		wantSettings(t, q)
		_, after := confirmAndSubmit(t, b, q, "/admin/settings/security/mfa/confirm?enabled=true", "/admin/settings/security/mfa")
		if after.Status != 200 {
			t.Fatalf("after signing in again the change failed: %d %s", after.Status, after.URL)
		}
		if ten, _ := st.TenantByID(context.Background(), pe.ten.ID); !ten.MFAEnabled {
			t.Fatal("MFA is not on after the fresh sign-in and confirmation")
		}
	})
}

// stripTags returns the text of an HTML fragment.
func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}

package templates

import (
	"bytes"
	"flag"
	"html/template"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// A tiny valid PNG, so golden files stay short.
const sampleQR = template.URL("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==")

func sampleTime() time.Time { return time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC) }

func sampleBase(title string) Base {
	return Base{Title: title, TenantName: "Acme Corp", AppName: "Acme Wiki", CSRFToken: "csrf-token-123"}
}

type samplePage struct {
	name string
	data any
}

func samplePages() []samplePage {
	now := sampleTime()
	return []samplePage{
		{"login", LoginPage{Base: sampleBase("Sign in"), AuthRequestID: "ar_123"}},
		{"forgot", ForgotPage{Base: sampleBase("Reset your password"), AuthRequestID: "ar_123", Email: "ada@acme.example"}},
		{"new_password", NewPasswordPage{Base: sampleBase("Choose a new password"), Heading: "Choose a new password",
			Submit: "Set the new password", Action: "/login/reset", Token: "tok", Email: "ada@acme.example", Error: "Use at least 8 characters."}},
		{"otp", CodePage{Base: sampleBase("Two-factor authentication"), AuthRequestID: "ar_123", Email: "ada@acme.example"}},
		{"recovery", RecoveryPage{Base: sampleBase("Use a recovery code"), AuthRequestID: "ar_123", Email: "ada@acme.example"}},
		{"enrol", EnrolPage{
			Base: sampleBase("Set up two-factor authentication"), AuthRequestID: "ar_123", Email: "ada@acme.example",
			TOTPKey: TOTPKey{QRDataURI: sampleQR, Secret: "JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP",
				OTPAuthURI: "otpauth://totp/Acme%20Corp:ada@acme.example?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Acme%20Corp",
				Issuer:     "Acme Corp"},
		}},
		{"recovery_codes", RecoveryCodesPage{
			Base:        sampleBase("Save your recovery codes"),
			Codes:       []string{"7kq2-9xwm", "p3vd-h8rt", "c6nf-2jzb", "w4ye-m7sa", "t9gh-5lqc", "b2rk-x6dn", "f8mu-3pve", "j5ct-q4wy", "n7xa-e2hk", "s3lz-v9gf"},
			DownloadURI: "data:text/plain;charset=utf-8,7kq2-9xwm%0A",
			ContinueURL: "/login/continue?authRequestID=ar_123",
		}},
		{"error", ErrorPage{Base: sampleBase("Not found"), Status: 404, Heading: "This sign-in link has expired", Message: "Go back to the app and start signing in again.", BackURL: "/"}},
		{"locked", LockedPage{Base: sampleBase("Too many attempts"), Until: now.Add(15 * time.Minute), RetryIn: "15 minutes", RestartURL: "/login?authRequestID=ar_123"}},
		{"logged_out", InfoPage{Base: sampleBase("Signed out"), Heading: "You are signed out", Message: "You have been signed out of Acme Corp. You can close this window."}},
		{"confirm", ConfirmPage{
			Base: sampleBase("Remove MFA"), Heading: "Turn off multi-factor authentication?",
			Message: "People in Acme Corp will sign in with only a password.",
			Action:  "/admin/settings/security/mfa", ConfirmLabel: "Turn off MFA", CancelURL: "/admin/settings/security",
			Danger: true, Fields: map[string]string{"enabled": "false"},
		}},
		{"settings", sampleSettings(true)},
		{"account", AccountPage{Base: sampleBase("Security"), Email: "ada@acme.example", MFAState: "active", RecoveryCodesLeft: 8}},
	}
}

func sampleSettings(enabled bool) SettingsPage {
	now := sampleTime()
	enrolled := now.Add(-72 * time.Hour)
	used := now.Add(-2 * time.Hour)
	return SettingsPage{
		Base:         sampleBase("Account settings"),
		TenantRef:    "acme",
		MFAEnabled:   enabled,
		MFAUpdatedAt: now.Add(-24 * time.Hour),
		MFAUpdatedBy: "grace@acme.example",
		AdminEmail:   "grace@acme.example",
		Users: []UserRow{
			{ID: "u1", Email: "ada@acme.example", Name: "Ada Lovelace", Role: "member", MFAState: "active", EnrolledAt: &enrolled, LastUsed: &used},
			{ID: "u2", Email: "grace@acme.example", Name: "Grace Hopper", Role: "admin", MFAState: "pending"},
			{ID: "u3", Email: "alan@acme.example", Role: "member", MFAState: "none", Disabled: true},
		},
		Events: []EventRow{
			{At: now.Add(-24 * time.Hour), Actor: "grace@acme.example", Action: "mfa.policy.enable", Target: "acme", Address: "203.0.113.7"},
			{At: now.Add(-2 * time.Hour), Actor: "ada@acme.example", Action: "login.totp.ok", Address: "198.51.100.23", Detail: "Acme Wiki"},
		},
	}
}

func load(t *testing.T) *Templates {
	t.Helper()
	tmpl, err := Load(FS)
	if err != nil {
		t.Fatalf("Load(FS): %v", err)
	}
	return tmpl
}

func render(t *testing.T, tmpl *Templates, name string, data any) string {
	t.Helper()
	var buf bytes.Buffer
	if err := tmpl.Render(&buf, name, data); err != nil {
		t.Fatalf("Render(%q): %v", name, err)
	}
	return buf.String()
}

func TestLoadHasEveryRequiredPage(t *testing.T) {
	tmpl := load(t)
	got := map[string]bool{}
	for _, name := range tmpl.Pages() {
		got[name] = true
	}
	for _, name := range requiredPages() {
		if !got[name] {
			t.Errorf("page %q not loaded", name)
		}
	}
}

func TestLoadMissingPage(t *testing.T) {
	tests := []struct {
		name    string
		remove  []string
		wantErr []string
	}{
		{name: "otp", remove: []string{"pages/otp.html"}, wantErr: []string{"otp"}},
		{name: "two pages", remove: []string{"pages/enrol.html", "pages/settings.html"}, wantErr: []string{"enrol", "settings"}},
		{name: "layout", remove: []string{"pages/layout.html"}, wantErr: []string{"layout"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := copyFS(t, FS)
			for _, p := range tc.remove {
				delete(fsys, p)
			}
			_, err := Load(fsys)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
		})
	}
}

func copyFS(t *testing.T, src fs.FS) fstest.MapFS {
	t.Helper()
	out := fstest.MapFS{}
	err := fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		out[p] = &fstest.MapFile{Data: b}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRenderUnknownPageWritesNothing(t *testing.T) {
	tmpl := load(t)
	var buf bytes.Buffer
	if err := tmpl.Render(&buf, "nope", nil); err == nil {
		t.Error("Render of unknown page succeeded")
	}
	// Wrong data type fails during execution; nothing partial may be written.
	if err := tmpl.Render(&buf, "settings", LoginPage{}); err == nil {
		t.Error("Render with wrong data succeeded")
	}
	if buf.Len() != 0 {
		t.Errorf("failed Render wrote %d bytes", buf.Len())
	}
}

func TestStatic(t *testing.T) {
	static, err := Static(FS)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"portcullis.css", "logo.svg"} {
		if _, err := fs.Stat(static, name); err != nil {
			t.Errorf("static %s: %v", name, err)
		}
	}
	if _, err := Static(fstest.MapFS{}); err == nil {
		t.Error("Static of an empty FS succeeded")
	}
}

var (
	inlineStyle  = regexp.MustCompile(`(?i)<style|\sstyle=`)
	inlineScript = regexp.MustCompile(`(?i)<script|\son[a-z]+=|javascript:`)
)

func TestEveryPageRenders(t *testing.T) {
	tmpl := load(t)
	for _, p := range samplePages() {
		t.Run(p.name, func(t *testing.T) {
			out := render(t, tmpl, p.name, p.data)
			for _, want := range []string{
				`<html lang="en">`,
				`<meta name="viewport"`,
				`href="/login/static/portcullis.css"`,
				" · Portcullis</title>",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("missing %q", want)
				}
			}
			if inlineStyle.MatchString(out) {
				t.Error("page has an inline style (CSP style-src 'self')")
			}
			if inlineScript.MatchString(out) {
				t.Error("page has a script or event handler (CSP script-src 'none')")
			}
			for _, form := range findTags(out, "form") {
				if form["method"] != "post" {
					continue
				}
				if !strings.HasPrefix(form["action"], "/") {
					t.Errorf("form action %q is not same-origin", form["action"])
				}
			}
			if strings.Contains(out, `method="post"`) {
				var csrf int
				for _, in := range findTags(out, "input") {
					if in["name"] == "_csrf" && in["value"] == "csrf-token-123" && in["type"] == "hidden" {
						csrf++
					}
				}
				if want := strings.Count(out, `method="post"`); csrf != want {
					t.Errorf("%d _csrf inputs for %d POST forms", csrf, want)
				}
			}
			for _, in := range findTags(out, "input") {
				if in["type"] == "hidden" || in["aria-hidden"] == "true" {
					continue
				}
				if !strings.Contains(out, `<label for="`+in["id"]+`"`) {
					t.Errorf("input %q has no label", in["name"])
				}
			}
		})
	}
}

func TestGolden(t *testing.T) {
	tmpl := load(t)
	for _, p := range samplePages() {
		switch p.name {
		case "login", "otp", "enrol", "settings":
		default:
			continue
		}
		t.Run(p.name, func(t *testing.T) {
			got := render(t, tmpl, p.name, p.data)
			golden := filepath.Join("testdata", p.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./templates -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s; run go test ./templates -update and review the diff", p.name, golden)
			}
		})
	}
}

var (
	tagRe  = regexp.MustCompile(`(?s)<([a-z]+)(\s[^>]*)?>`)
	attrRe = regexp.MustCompile(`([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:="([^"]*)")?`)
)

// findTags returns the attributes of every <tag ...> in s. html/template
// escapes quotes and angle brackets in attribute values, so a regexp is enough.
func findTags(s, tag string) []map[string]string {
	var out []map[string]string
	for _, m := range tagRe.FindAllStringSubmatch(s, -1) {
		if m[1] != tag {
			continue
		}
		attrs := map[string]string{}
		for _, a := range attrRe.FindAllStringSubmatch(m[2], -1) {
			attrs[a[1]] = a[2]
		}
		out = append(out, attrs)
	}
	return out
}

func inputsNamed(s, name string) []map[string]string {
	var out []map[string]string
	for _, in := range findTags(s, "input") {
		if in["name"] == name {
			out = append(out, in)
		}
	}
	return out
}

func TestPasswordManagerHints(t *testing.T) {
	tmpl := load(t)
	pages := map[string]any{}
	for _, p := range samplePages() {
		pages[p.name] = p.data
	}
	codeAttrs := map[string]string{
		"autocomplete": "one-time-code",
		"inputmode":    "numeric",
		"pattern":      "[0-9]*",
		"maxlength":    "8",
	}
	tests := []struct {
		name      string
		action    string
		want      map[string]map[string]string // input name -> attributes
		flags     map[string][]string          // input name -> boolean attributes
		oneCode   bool
		forbidden []string // input names that must not appear
	}{
		{
			name:   "login",
			action: "/login/password",
			want: map[string]map[string]string{
				"email":         {"type": "email", "autocomplete": "username"},
				"password":      {"type": "password", "autocomplete": "current-password"},
				"authRequestID": {"type": "hidden", "value": "ar_123"},
			},
			flags:     map[string][]string{"email": {"required", "autofocus"}, "password": {"required"}},
			forbidden: []string{"code"},
		},
		{
			name:    "otp",
			action:  "/login/otp",
			oneCode: true,
			want: map[string]map[string]string{
				"code":          codeAttrs,
				"email":         {"autocomplete": "username", "value": "ada@acme.example"},
				"authRequestID": {"type": "hidden", "value": "ar_123"},
			},
			flags:     map[string][]string{"code": {"required", "autofocus"}, "email": {"readonly"}},
			forbidden: []string{"password"},
		},
		{
			name:    "enrol",
			action:  "/login/enrol",
			oneCode: true,
			want: map[string]map[string]string{
				"code":          codeAttrs,
				"email":         {"autocomplete": "username", "value": "ada@acme.example"},
				"authRequestID": {"type": "hidden", "value": "ar_123"},
			},
			flags:     map[string][]string{"code": {"required", "autofocus"}},
			forbidden: []string{"password"},
		},
		{
			name:    "recovery",
			action:  "/login/recovery",
			oneCode: true,
			want: map[string]map[string]string{
				"code":          {"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
				"authRequestID": {"type": "hidden", "value": "ar_123"},
			},
			flags:     map[string][]string{"code": {"required"}},
			forbidden: []string{"password"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := render(t, tmpl, tc.name, pages[tc.name])
			if !strings.Contains(out, `action="`+tc.action+`"`) {
				t.Errorf("no form posting to %s", tc.action)
			}
			if n := len(inputsNamed(out, "code")); tc.oneCode && n != 1 {
				t.Errorf(`%d inputs named "code", want exactly 1`, n)
			}
			for name, attrs := range tc.want {
				ins := inputsNamed(out, name)
				if len(ins) != 1 {
					t.Errorf("%d inputs named %q, want 1", len(ins), name)
					continue
				}
				for k, v := range attrs {
					if got := ins[0][k]; got != v {
						t.Errorf("input %q: %s=%q, want %q", name, k, got, v)
					}
				}
				for _, flag := range tc.flags[name] {
					if _, ok := ins[0][flag]; !ok {
						t.Errorf("input %q lacks %s", name, flag)
					}
				}
			}
			for _, name := range tc.forbidden {
				if n := len(inputsNamed(out, name)); n != 0 {
					t.Errorf("%d inputs named %q, want none", n, name)
				}
			}
		})
	}
}

func TestLoginAutofocusFollowsEmail(t *testing.T) {
	tmpl := load(t)
	out := render(t, tmpl, "login", LoginPage{Base: sampleBase("Sign in"), Email: "ada@acme.example", Error: "Wrong email or password."})
	email, password := inputsNamed(out, "email")[0], inputsNamed(out, "password")[0]
	if _, ok := email["autofocus"]; ok {
		t.Error("prefilled email has autofocus")
	}
	if _, ok := password["autofocus"]; !ok {
		t.Error("password lacks autofocus when email is prefilled")
	}
	if email["value"] != "ada@acme.example" {
		t.Errorf("email value = %q", email["value"])
	}
	if !strings.Contains(out, `role="alert"`) || !strings.Contains(out, "Wrong email or password.") {
		t.Error("error not shown in a role=alert")
	}
	if !strings.Contains(out, "Sign in to Acme Corp") || !strings.Contains(out, "to continue to <strong>Acme Wiki</strong>") {
		t.Error("tenant or app name missing")
	}
}

var enabledBadge = regexp.MustCompile(`<span class="badge[^"]*">Enabled</span>`)

func TestSettingsMFAState(t *testing.T) {
	tmpl := load(t)
	tests := []struct {
		name        string
		enabled     bool
		wantBadge   bool
		wantContain []string
		wantAbsent  []string
	}{
		{
			name:        "enabled",
			enabled:     true,
			wantBadge:   true,
			wantContain: []string{"/admin/settings/security/mfa/confirm?enabled=false", ">Remove</a>", "2026-03-13 09:26 UTC", "by grace@acme.example"},
			wantAbsent:  []string{"Enable two factor authentication", "enabled=true"},
		},
		{
			name:        "disabled",
			enabled:     false,
			wantContain: []string{"Enable two factor authentication", "/admin/settings/security/mfa/confirm?enabled=true"},
			wantAbsent:  []string{">Enabled<", "enabled=false", ">Remove<"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := render(t, tmpl, "settings", sampleSettings(tc.enabled))
			if got := enabledBadge.MatchString(out); got != tc.wantBadge {
				t.Errorf("Enabled badge shown = %v, want %v", got, tc.wantBadge)
			}
			for _, s := range tc.wantContain {
				if !strings.Contains(out, s) {
					t.Errorf("missing %q", s)
				}
			}
			for _, s := range tc.wantAbsent {
				if strings.Contains(out, s) {
					t.Errorf("unexpected %q", s)
				}
			}
			for _, s := range []string{"Account settings", `aria-current="page">Security</a>`, "MFA</span> Multi-factor authentication", "/login/logout", "grace@acme.example", "Recent activity", "mfa.policy.enable"} {
				if !strings.Contains(out, s) {
					t.Errorf("missing %q", s)
				}
			}
			// Reset MFA only for users who have something to reset.
			for id, want := range map[string]bool{"u1": true, "u2": true, "u3": false} {
				link := "/admin/settings/users/" + id + "/reset-mfa/confirm"
				if got := strings.Contains(out, link); got != want {
					t.Errorf("reset link for %s shown = %v, want %v", id, got, want)
				}
			}
		})
	}
}

func TestFlash(t *testing.T) {
	tmpl := load(t)
	s := sampleSettings(true)
	s.Flash = "MFA is now required for everyone in Acme Corp."
	out := render(t, tmpl, "settings", s)
	if !strings.Contains(out, `role="status"`) || !strings.Contains(out, s.Flash) {
		t.Error("flash not shown with role=status")
	}
	out = render(t, tmpl, "settings", sampleSettings(true))
	if strings.Contains(out, `role="status"`) {
		t.Error("empty flash rendered")
	}
}

func TestAccountNewCodes(t *testing.T) {
	tmpl := load(t)
	out := render(t, tmpl, "account", AccountPage{
		Base: sampleBase("Security"), Email: "ada@acme.example", MFAState: "active", RecoveryCodesLeft: 10,
		NewCodes: []string{"aaaa-bbbb", "cccc-dddd"}, DownloadURI: "data:text/plain,aaaa-bbbb",
	})
	for _, s := range []string{"aaaa-bbbb", "cccc-dddd", `download="portcullis-recovery-codes.txt"`, `action="/admin/account/recovery-codes"`, "Generate new recovery codes"} {
		if !strings.Contains(out, s) {
			t.Errorf("missing %q", s)
		}
	}
}

func TestConfirmFields(t *testing.T) {
	tmpl := load(t)
	out := render(t, tmpl, "confirm", ConfirmPage{
		Base: sampleBase("Reset MFA"), Heading: "Reset MFA?", Action: "/admin/settings/users/u1/reset-mfa",
		ConfirmLabel: "Reset", CancelURL: "/admin/settings/security", Fields: map[string]string{"b": "2", "a": "1"},
	})
	if !strings.Contains(out, `<input type="hidden" name="a" value="1">`) || !strings.Contains(out, `<input type="hidden" name="b" value="2">`) {
		t.Error("fields not rendered as hidden inputs")
	}
	if !strings.Contains(out, `class="button button-block button-primary" type="submit">Reset</button>`) {
		t.Error("non-danger confirm button not primary")
	}
	if strings.Contains(out, "button-danger") {
		t.Error("danger style without Danger")
	}
}

func TestEscaping(t *testing.T) {
	tmpl := load(t)
	const hostile = `<script>alert(1)</script>"'`
	base := Base{Title: hostile, TenantName: hostile, AppName: hostile, CSRFToken: `"><script>`}
	pages := []samplePage{
		{"login", LoginPage{Base: base, AuthRequestID: hostile, Email: hostile, Error: hostile}},
		{"otp", CodePage{Base: base, AuthRequestID: hostile, Email: hostile, Error: hostile}},
		{"enrol", EnrolPage{Base: base, AuthRequestID: hostile, Email: hostile, TOTPKey: TOTPKey{Secret: hostile, Issuer: hostile, QRDataURI: sampleQR}}},
		{"settings", SettingsPage{Base: base, AdminEmail: hostile, MFAEnabled: true, MFAUpdatedBy: hostile, TenantRef: hostile,
			Users:  []UserRow{{ID: hostile, Email: hostile, Name: hostile, Role: hostile, MFAState: "active"}},
			Events: []EventRow{{Actor: hostile, Action: hostile, Target: hostile, Address: hostile, Detail: hostile}}}},
		{"error", ErrorPage{Base: base, Heading: hostile, Message: hostile, BackURL: "javascript:alert(1)"}},
		{"confirm", ConfirmPage{Base: base, Heading: hostile, Action: "javascript:alert(1)", Fields: map[string]string{"x": hostile}}},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			out := render(t, tmpl, p.name, p.data)
			if strings.Contains(out, "<script") {
				t.Error("hostile input rendered as a tag")
			}
			if strings.Contains(out, "javascript:") {
				t.Error("javascript: URL rendered")
			}
			if !strings.Contains(out, "&lt;script&gt;") {
				t.Error("hostile input not escaped")
			}
		})
	}
}

func TestFmtTime(t *testing.T) {
	est := time.FixedZone("EST", -5*3600)
	at := time.Date(2026, 3, 14, 4, 26, 0, 0, est)
	tests := []struct {
		name string
		in   any
		want string
	}{
		{name: "time in another zone", in: at, want: "2026-03-14 09:26 UTC"},
		{name: "pointer", in: &at, want: "2026-03-14 09:26 UTC"},
		{name: "nil pointer", in: (*time.Time)(nil), want: ""},
		{name: "zero", in: time.Time{}, want: ""},
		{name: "not a time", in: "x", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := fmtTime(tc.in); got != tc.want {
				t.Errorf("fmtTime(%v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// The TOTP code field says "Verification code", the words of the help article customers read, and
// keeps the one-time-code hint; no page calls the code anything else.
func TestCodeFieldIsVerificationCode(t *testing.T) {
	tmpl := load(t)
	for _, p := range samplePages() {
		out := render(t, tmpl, p.name, p.data)
		if strings.Contains(strings.ToLower(out), "authentication code") {
			t.Errorf("%s still says \"authentication code\"", p.name)
		}
		if p.name != "otp" && p.name != "enrol" {
			continue
		}
		if !strings.Contains(out, `<label for="code">Verification code</label>`) {
			t.Errorf("%s: the code field is not labelled \"Verification code\"", p.name)
		}
		var code map[string]string
		for _, in := range findTags(out, "input") {
			if in["id"] == "code" {
				code = in
			}
		}
		if code == nil || code["autocomplete"] != "one-time-code" {
			t.Errorf("%s: the labelled field is %v, want autocomplete=one-time-code", p.name, code)
		}
	}
}

// The account page's "Passkeys and security keys": shown when WebAuthn is on even without a key, with
// the ceremony's options escaped into an attribute for webauthn.js, or the way to sign in again.
func TestAccountAddKey(t *testing.T) {
	tmpl := load(t)
	for _, tc := range []struct {
		name      string
		page      AccountPage
		want, not []string
	}{
		{"off, no keys", AccountPage{MFAState: "none"}, nil, []string{`id="keys"`, "webauthn.js"}},
		{"ceremony", AccountPage{MFAState: "none", KeysOn: true, AddKeyOptions: `{"publicKey":{"challenge":"a\"b<"}}`, KeyFlash: "Added."},
			[]string{`id="keys"`, `data-webauthn="create"`, `data-options="{&#34;publicKey&#34;:{&#34;challenge&#34;:&#34;a\&#34;b&lt;&#34;}}"`,
				`action="/admin/account/keys/add"`, `name="credential"`, `src="/login/static/webauthn.js"`, "Added."},
			[]string{"<script>"}},
		{"needs the second factor", AccountPage{MFAState: "active", KeysOn: true, ReauthURL: "/admin/signin?fresh=1",
			AddKeyReauthURL: "/admin/signin?fresh=1", AddKeyNeedsFactor: true, Keys: []KeyRow{{ID: "k1", Name: "Laptop"}}},
			[]string{"To add or remove a key", `href="/admin/signin?fresh=1"`}, []string{"data-options", "To remove a key,", "webauthn.js"}},
		{"enrolment code", AccountPage{MFAState: "none", KeysOn: true, AddKeyCodeURL: "/admin/signin?fresh=1"},
			[]string{"enrolment code"}, []string{"data-options"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.page.Base = sampleBase("Security")
			out := render(t, tmpl, "account", tc.page)
			for _, s := range tc.want {
				if !strings.Contains(out, s) {
					t.Errorf("missing %q", s)
				}
			}
			for _, s := range tc.not {
				if strings.Contains(out, s) {
					t.Errorf("has %q", s)
				}
			}
		})
	}
}

// The account page's authenticator app part: the offer (set up or replace), the sign-in again link, and
// this session's secret with a code field a password manager fills (one-time-code, the account's name).
func TestAccountApp(t *testing.T) {
	tmpl := load(t)
	pending := AccountPage{MFAState: "active", Email: "ada@acme.example", AppAction: "replace",
		App: TOTPKey{Secret: "JBSW Y3DP EHPK 3PXP", Issuer: "Acme Corp", QRDataURI: sampleQR,
			OTPAuthURI: "otpauth://totp/Acme%20Corp:ada@acme.example?secret=JBSWY3DPEHPK3PXP"}}
	withError := pending
	withError.AppError = "That code didn't work."
	for _, tc := range []struct {
		name      string
		page      AccountPage
		want, not []string
	}{
		{"no offer", AccountPage{MFAState: "none"}, nil, []string{`action="/admin/account/app`, `id="app-reauth"`}},
		{"set up", AccountPage{MFAState: "none", AppAction: "setup", Keys: []KeyRow{{ID: "k1", Name: "Laptop"}}},
			[]string{`action="/admin/account/app"`, "Set up an authenticator app"}, []string{"otpauth://", `id="app-reauth"`}},
		{"replace needs a fresh sign-in", AccountPage{MFAState: "active", AppAction: "replace", AppReauthURL: "/admin/signin?fresh=1"},
			[]string{`id="app-reauth"`, `href="/admin/signin?fresh=1"`, "Sign in again to replace your authenticator app"},
			[]string{`action="/admin/account/app"`, `action="/admin/account/app/confirm"`}},
		{"pending", pending,
			[]string{`action="/admin/account/app/confirm"`, `action="/admin/account/app/cancel"`, `src="data:image/png;base64,iVBOR`,
				`href="otpauth://totp/Acme%20Corp:ada@acme.example?secret=JBSWY3DPEHPK3PXP"`, "JBSW Y3DP EHPK 3PXP",
				"Replace your authenticator app", "your other sessions signed in with the old app end"},
			[]string{`action="/admin/account/app"`, "aria-invalid"}},
		{"wrong code", withError, []string{"That code didn&#39;t work.", `aria-invalid="true"`, `aria-describedby="app-code-hint form-error"`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.page.Base = sampleBase("Security")
			out := render(t, tmpl, "account", tc.page)
			for _, s := range tc.want {
				if !strings.Contains(out, s) {
					t.Errorf("missing %q", s)
				}
			}
			for _, s := range tc.not {
				if strings.Contains(out, s) {
					t.Errorf("has %q", s)
				}
			}
			if tc.page.App.Secret == "" {
				return
			}
			codes := inputsNamed(out, "code")
			if len(codes) != 1 || codes[0]["autocomplete"] != "one-time-code" || codes[0]["inputmode"] != "numeric" {
				t.Errorf("code inputs %v, want one one-time-code field", codes)
			}
			if users := inputsNamed(out, "email"); len(users) != 1 || users[0]["autocomplete"] != "username" || users[0]["value"] != "ada@acme.example" {
				t.Errorf("username hint %v", users)
			}
		})
	}
}

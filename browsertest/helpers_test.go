package browsertest

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portcullis/portcullis/app"
	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/examples/demoapp"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

const (
	password = "correct horse battery"
	// testTimeout bounds one test, browser start included: when it passes, the browser is stopped
	// and the waiting action fails.
	testTimeout = 60 * time.Second
	// stepTimeout bounds one wait, so that a failing test still has time to say what the page showed.
	stepTimeout = 15 * time.Second
	// viewport is the desktop window; the mobile test narrows it.
	viewportW, viewportH = 1280, 900
)

// debianChromium is where Debian's chromium package puts the browser.
const debianChromium = "/usr/bin/chromium"

// findChromium picks the browser: PORTCULLIS_TEST_CHROMIUM, else Debian's. It returns "" when there
// is none.
func findChromium(getenv func(string) string, exists func(string) bool) string {
	if p := getenv("PORTCULLIS_TEST_CHROMIUM"); p != "" {
		return p
	}
	if exists(debianChromium) {
		return debianChromium
	}
	return ""
}

// chromiumPath finds the system's Chromium. Without one the test skips, or fails when CI=true.
func chromiumPath(t *testing.T) string {
	t.Helper()
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	p := findChromium(os.Getenv, exists)
	switch {
	case p == "":
		msg := "no Chromium for the browser tests: install Debian's chromium package or set PORTCULLIS_TEST_CHROMIUM to a Chromium or Chrome binary"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI=true: the browser tests must run)")
		}
		t.Skip(msg)
	case !exists(p):
		t.Fatalf("PORTCULLIS_TEST_CHROMIUM=%s: no such file", p)
	}
	return p
}

// screenshotDir is where screenshots go, made if missing.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PORTCULLIS_TEST_ARTIFACTS")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		root := wd
		for {
			if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(root)
			if parent == root {
				t.Fatalf("no go.mod above %s", wd)
			}
			root = parent
		}
		dir = filepath.Join(root, "artifacts", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot folder: %v", err)
	}
	return dir
}

// harness is one test's world: Portcullis on SQLite with a tenant, an admin and a member; the demo app
// registered as the tenant's client; and one headless Chromium.
type harness struct {
	t       *testing.T
	env     *apptest.Env
	tenant  storage.Tenant
	admin   storage.User
	member  storage.User
	demoURL string
	shots   string
	browser context.Context // tabs are made from it
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessOn(t, false)
}

// newHarnessOn is newHarness; with localhostIssuer, Portcullis is on http://localhost:PORT (WebAuthn
// needs a domain name, and Chromium's virtual authenticator refuses IP origins) and the demo app on
// 127.0.0.1.
func newHarnessOn(t *testing.T, localhostIssuer bool, edits ...func(*app.Config)) *harness {
	t.Helper()
	exe := chromiumPath(t)
	h := &harness{t: t, shots: screenshotDir(t)}
	appHost, demoHost := "127.0.0.1", "localhost"
	if localhostIssuer {
		appHost, demoHost = "localhost", "127.0.0.1"
	}
	edits = append([]func(*app.Config){func(c *app.Config) { c.Issuer = strings.Replace(c.Issuer, "127.0.0.1", appHost, 1) }}, edits...)
	h.env = apptest.New(t, storagetest.NewSQLite(t), edits...)
	h.env.URL = strings.Replace(h.env.URL, "127.0.0.1", appHost, 1)
	h.tenant = h.env.Tenant("Acme Inc")
	h.admin = h.env.User(h.tenant.ID, "boss@acme.test", password, storage.RoleAdmin)
	h.member = h.env.User(h.tenant.ID, "ann@acme.test", password, storage.RoleMember)

	// The demo app answers on localhost while Portcullis is on 127.0.0.1: two sites, as in real life,
	// and cookies that cannot mix (browsers ignore ports for cookies).
	demo := httptest.NewUnstartedServer(nil)
	_, port, _ := net.SplitHostPort(demo.Listener.Addr().String())
	h.demoURL = "http://" + demoHost + ":" + port
	client, secret := h.env.Client(h.tenant.ID, apptest.ClientOptions{Redirect: h.demoURL + "/callback", PostLogout: h.demoURL + "/"})
	handler, err := demoapp.New(context.Background(), demoapp.Config{Issuer: h.env.URL, ClientID: client.ID, ClientSecret: secret,
		RedirectURL: h.demoURL + "/callback", PostLogoutURL: h.demoURL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	demo.Config.Handler = handler
	demo.Start()
	t.Cleanup(demo.Close)

	// The profile goes in a fresh folder; t.TempDir is registered before the browser's cleanup, so it
	// is removed after the browser has exited.
	profile := t.TempDir()
	root, cancelRoot := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancelRoot)
	alloc, cancelAlloc := chromedp.NewExecAllocator(root,
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		// Two people use the browser at once, in two tabs: the one in the background must not be slowed.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,PasswordLeakDetection"),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.WindowSize(viewportW, viewportH),
	)
	t.Cleanup(cancelAlloc) // stops the browser and waits for it
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	h.browser = browser
	return h
}

// tab is one page in its own browser context (its own cookies), as if a different person used it.
type tab struct {
	h    *harness
	name string
	ctx  context.Context

	mu      sync.Mutex
	console []string // what the page logged: CSP violations, script errors
}

func (h *harness) tab(name string) *tab {
	h.t.Helper()
	ctx, cancel := chromedp.NewContext(h.browser, chromedp.WithNewBrowserContext())
	h.t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(viewportW, viewportH)); err != nil {
		h.t.Fatalf("open a tab for %s: %v", name, err)
	}
	tb := &tab{h: h, name: name, ctx: ctx}
	msgs := chromedp.Console(ctx)
	go func() { // ends with the tab's context
		for m, err := range msgs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.console = append(tb.console, m.String())
			tb.mu.Unlock()
		}
	}()
	return tb
}

// fatalf fails the test, saying where the tab was and what it showed.
func (tb *tab) fatalf(format string, args ...any) {
	tb.h.t.Helper()
	msg := fmt.Sprintf(format, args...)
	if errors.Is(tb.ctx.Err(), context.DeadlineExceeded) {
		tb.h.t.Fatalf("%s: %s (the test ran out of its %s)", tb.name, msg, testTimeout)
	}
	// A short look at the page, without waiting long.
	ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if len(text) > 1500 {
		text = text[:1500] + "…"
	}
	tb.mu.Lock()
	console := strings.Join(tb.console, "\n")
	tb.mu.Unlock()
	if console != "" {
		console = "\nbrowser console:\n" + console
	}
	tb.h.t.Fatalf("%s: %s\nat %s, showing:\n%s%s", tb.name, msg, loc, text, console)
}

// do runs actions, failing the test on an error.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.h.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.fatalf("%s: %v", what, err)
	}
}

// run runs one action that returns a value.
func run[T any](tb *tab, what string, a chromedp.Action[T]) T {
	tb.h.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.fatalf("%s: %v", what, err)
	}
	return v
}

func (tb *tab) navigate(u string) { tb.h.t.Helper(); tb.do("open "+u, chromedp.Navigate(u)) }

func (tb *tab) waitVisible(css string) {
	tb.h.t.Helper()
	tb.do("wait for "+css, chromedp.WaitVisible(chromedp.CSS(css)))
}

// click clicks the first visible element the selector finds: CSS, or XPath when it starts with "//".
func (tb *tab) click(sel string) {
	tb.h.t.Helper()
	if strings.HasPrefix(sel, "//") {
		tb.do("click "+sel, chromedp.Click(chromedp.Search(sel), chromedp.NodeVisible))
		return
	}
	tb.do("click "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// typeInto types text into a field the way a person would, after emptying it.
func (tb *tab) typeInto(css, text string) {
	tb.h.t.Helper()
	tb.do("type into "+css, chromedp.WaitVisible(chromedp.CSS(css)), chromedp.Clear(chromedp.CSS(css)),
		chromedp.SendKeys(chromedp.CSS(css), text))
}

func (tb *tab) text(css string) string {
	tb.h.t.Helper()
	return strings.TrimSpace(run(tb, "read "+css, chromedp.Text(chromedp.CSS(css))))
}

func (tb *tab) location() *url.URL {
	tb.h.t.Helper()
	u, err := url.Parse(run(tb, "read the location", chromedp.Location()))
	if err != nil {
		tb.fatalf("location: %v", err)
	}
	return u
}

// has says whether the page has an element for the CSS selector, without waiting.
func (tb *tab) has(css string) bool {
	tb.h.t.Helper()
	q, _ := json.Marshal(css)
	return run(tb, "look for "+css, chromedp.Evaluate[bool](`document.querySelector(`+string(q)+`) !== null`))
}

// shot saves a full-page PNG screenshot under the given file name.
func (tb *tab) shot(name string) {
	tb.h.t.Helper()
	png := run(tb, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(tb.h.shots, name), png, 0o644); err != nil {
		tb.h.t.Fatalf("save screenshot: %v", err)
	}
}

// Pages, by a selector that only they have.
const (
	signInPage     = `form[action="/login/password"]`
	enrolPage      = `form[action="/login/enrol"]`
	enrolCodePage  = `form[action="/login/enrol-code"]`
	enrolmentCode  = `#enrolment-code`
	codePage       = `form[action="/login/otp"]`
	recoveryPage   = `form[action="/login/recovery"]`
	codesPage      = `ol.codes`
	settingsPage   = `#mfa`
	demoSignedIn   = `#amr`
	demoSignedOut  = `#signin`
	formError      = `#form-error`
	continueLink   = `a[href*="/authorize/callback"]`
	demoSignOut    = `#signout`
	settingsBadge  = `#mfa .panel-heading .badge`
	enableLink     = `//a[normalize-space(.)="Enable two factor authentication"]`
	enableConfirm  = `//button[normalize-space(.)="Enable two factor authentication"]`
	removeLink     = `//a[normalize-space(.)="Remove"]`
	removeConfirm  = `//button[normalize-space(.)="Remove"]`
	recoveryLink   = `a[href^="/login/recovery"]`
	otpauthLink    = `a[href^="otpauth://"]`
	secretText     = `code.secret-value`
	qrImage        = `img.qr-image`
	submitInForm   = ` button[type="submit"]`
	anyAfterSignIn = enrolPage + ", " + codePage + ", " + settingsPage + ", " + demoSignedIn
)

// signIn fills in the sign-in page and submits it; the caller waits for the page that follows.
func (tb *tab) signIn(email string) {
	tb.h.t.Helper()
	tb.waitVisible(signInPage)
	tb.typeInto("#email", email)
	tb.typeInto("#password", password)
	tb.click(signInPage + submitInForm)
}

// enrolment reads the key from the enrolment page, checks that the QR code shows and agrees with the
// otpauth:// link, and returns the key.
func (tb *tab) enrolment() []byte {
	tb.h.t.Helper()
	tb.waitVisible(enrolPage)
	tb.waitVisible(qrImage)
	if w := run(tb, "wait for the QR code to load", chromedp.Poll[int](
		`(() => { const i = document.querySelector("img.qr-image"); return i && i.complete ? i.naturalWidth : 0 })()`,
		chromedp.WithPollingTimeout(10*time.Second))); w <= 0 {
		tb.fatalf("the QR code did not load (naturalWidth %d)", w)
	}
	shown := tb.text(secretText)
	key := decodeKey(tb, shown)
	link := run(tb, "read the otpauth link", chromedp.AttributeValue(chromedp.CSS(otpauthLink), "href"))
	u, err := url.Parse(link.Value)
	if err != nil || !link.Exists {
		tb.fatalf("otpauth link %q: %v", link.Value, err)
	}
	if fromLink := decodeKey(tb, u.Query().Get("secret")); string(fromLink) != string(key) {
		tb.fatalf("the key shown as text (%q) is not the key in the otpauth link", shown)
	}
	return key
}

// decodeKey reads a base32 key as a person would type it: case and spaces do not matter.
func decodeKey(tb *tab, s string) []byte {
	tb.h.t.Helper()
	clean := strings.ToUpper(strings.Join(strings.Fields(strings.ReplaceAll(s, "-", " ")), ""))
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.TrimRight(clean, "="))
	if err != nil || len(key) < 10 {
		tb.fatalf("the key %q is not base32 of at least 80 bits: %v", s, err)
	}
	return key
}

// confirmEnrolment types the current code and goes through the recovery codes to wherever the
// sign-in continues. prefix names the screenshots ("" for none).
func (tb *tab) confirmEnrolment(key []byte, shotPrefix string) {
	tb.h.t.Helper()
	tb.typeInto("#code", apptest.Code(tb.h.t, key, tb.h.env.Clock.Now()))
	tb.click(enrolPage + submitInForm)
	tb.waitVisible(codesPage)
	if n := run(tb, "count the recovery codes", chromedp.Evaluate[int](`document.querySelectorAll("ol.codes li").length`)); n != 10 {
		tb.fatalf("%d recovery codes, want 10", n)
	}
	tb.codesNotClipped("recovery codes", viewportW)
	if shotPrefix != "" {
		tb.shot(shotPrefix + "-recovery-codes.png")
	}
	tb.click(continueLink)
}

// enrolThroughDemo signs the member in to the demo app for the first time under the policy:
// password, enrolment, recovery codes. It returns the key.
func (tb *tab) enrolThroughDemo(email string) []byte {
	tb.h.t.Helper()
	tb.navigate(tb.h.demoURL + "/")
	tb.click(demoSignedOut)
	tb.signIn(email)
	key := tb.enrolment()
	tb.confirmEnrolment(key, "")
	tb.waitVisible(demoSignedIn)
	return key
}

// amr reads the amr claim the demo app shows.
func (tb *tab) amr() []string {
	tb.h.t.Helper()
	tb.waitVisible(demoSignedIn)
	var amr []string
	if raw := tb.text(demoSignedIn); json.Unmarshal([]byte(raw), &amr) != nil {
		tb.fatalf("#amr holds %q, not a JSON array", raw)
	}
	return amr
}

// signOutOfDemo signs out of the demo app, which signs out of Portcullis too, and waits to be back.
func (tb *tab) signOutOfDemo() {
	tb.h.t.Helper()
	tb.click(demoSignOut)
	tb.waitVisible("#notice")
	if u := tb.location(); u.Host != strings.TrimPrefix(tb.h.demoURL, "http://") || u.Path != "/" {
		tb.fatalf("after signing out the browser is at %s, want the demo app", u)
	}
}

// settingsState signs the admin in to the account settings if needed (enrolling when the policy asks
// for it) and returns the badge of the MFA section.
func (tb *tab) openSettings(shotPrefix string) string {
	tb.h.t.Helper()
	tb.navigate(tb.h.env.URL + "/admin/settings/security")
	tb.waitVisible(signInPage + ", " + settingsPage)
	if tb.has(signInPage) {
		if shotPrefix != "" {
			tb.shot(shotPrefix + "-signin.png")
		}
		tb.signIn(tb.h.admin.Email)
		tb.waitVisible(enrolPage + ", " + settingsPage)
		if tb.has(enrolPage) {
			tb.confirmEnrolment(tb.enrolment(), "")
		}
	}
	tb.waitVisible(settingsPage)
	return tb.text(settingsBadge)
}

// noHorizontalScroll fails when the page is wider than its viewport.
func (tb *tab) noHorizontalScroll(page string, width int) {
	tb.h.t.Helper()
	type sizes struct {
		Scroll int    `json:"scroll"`
		Client int    `json:"client"`
		Widest string `json:"widest"`
	}
	s := run(tb, "measure "+page, chromedp.Evaluate[sizes](`(() => {
		const d = document.documentElement;
		let widest = "";
		for (const el of document.body.querySelectorAll("*")) {
			const r = el.getBoundingClientRect();
			if (r.right > d.clientWidth + 1) { widest = el.tagName.toLowerCase() + (el.className ? "." + String(el.className).split(" ").join(".") : "") + " right=" + Math.round(r.right); break; }
		}
		return {scroll: d.scrollWidth, client: d.clientWidth, widest: widest};
	})()`))
	if s.Scroll > width {
		tb.h.t.Errorf("%s at %dpx: scrollWidth %d > %d (the page scrolls sideways; first element past the edge: %s)", page, width, s.Scroll, width, s.Widest)
	}
}

// codesNotClipped fails when a recovery code on the page does not show whole at this viewport width:
// the code element must not be narrower than its text (scrollWidth <= clientWidth), and it must lie
// inside its row's box (the row does not overflow either).
func (tb *tab) codesNotClipped(page string, width int) {
	tb.h.t.Helper()
	type clip struct {
		Text            string  `json:"text"`
		CodeScroll      int     `json:"codeScroll"`
		CodeClient      int     `json:"codeClient"`
		RowScroll       int     `json:"rowScroll"`
		RowClient       int     `json:"rowClient"`
		CodeRightPx     float64 `json:"codeRight"`
		RowInnerRightPx float64 `json:"rowInnerRight"`
	}
	codes := run(tb, "measure the recovery codes on "+page, chromedp.Evaluate[[]clip](`[...document.querySelectorAll("ol.codes li")].map(li => {
		const c = li.querySelector("code"), cs = getComputedStyle(li);
		const lr = li.getBoundingClientRect(), cr = c.getBoundingClientRect();
		return {text: c.textContent, codeScroll: c.scrollWidth, codeClient: c.clientWidth,
			rowScroll: li.scrollWidth, rowClient: li.clientWidth,
			codeRight: cr.right, rowInnerRight: lr.right - parseFloat(cs.borderRightWidth) - parseFloat(cs.paddingRight)};
	})`))
	if len(codes) == 0 {
		tb.fatalf("%s at %dpx: no recovery codes to measure", page, width)
	}
	for _, c := range codes {
		if c.CodeScroll > c.CodeClient || c.RowScroll > c.RowClient || c.CodeRightPx > c.RowInnerRightPx+0.5 {
			tb.h.t.Errorf("%s at %dpx: recovery code %q is clipped: code scrollWidth %d > clientWidth %d, or row scrollWidth %d > %d, or code ends at %.1fpx past the row's content edge %.1fpx",
				page, width, c.Text, c.CodeScroll, c.CodeClient, c.RowScroll, c.RowClient, c.CodeRightPx, c.RowInnerRightPx)
		}
	}
}

func containsAll(have []string, want ...string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

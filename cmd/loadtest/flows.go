package main

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/pquerna/otp"
	"golang.org/x/net/html"
	"golang.org/x/oauth2"
)

var mfaAlgorithm = otp.AlgorithmSHA1

// tokens is a token endpoint answer.
type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
}

// browser keeps cookies for one sign-in and stops at the app's redirect URI.
type browser struct {
	c *http.Client
}

func (e *env) newBrowser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{c: &http.Client{Transport: e.transport, Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), redirectURI) {
				return http.ErrUseLastResponse
			}
			return nil
		}}}
}

// page is where a navigation ended.
type page struct {
	url    *url.URL
	status int
	body   string
	loc    *url.URL // the redirect to the app
}

func (b *browser) do(ctx context.Context, method, u string, form url.Values) (*page, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	p := &page{url: resp.Request.URL, status: resp.StatusCode, body: string(raw)}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		p.loc, _ = resp.Location()
	}
	return p, nil
}

// submit fills the form posting to action and sends it; a page without it is an error naming where
// the sign-in ended.
func (b *browser) submit(ctx context.Context, p *page, action string, values map[string]string) (*page, error) {
	f, ok := findForm(p.body, action)
	if !ok {
		return nil, pageError(p, "no form "+action)
	}
	for k, v := range values {
		f.Set(k, v)
	}
	u, err := p.url.Parse(action)
	if err != nil {
		return nil, err
	}
	return b.do(ctx, http.MethodPost, u.String(), f)
}

func pageError(p *page, what string) error {
	title := ""
	if i := strings.Index(p.body, "<h1"); i >= 0 {
		if j := strings.Index(p.body[i:], "</h1>"); j > 0 {
			title = stripTags(p.body[i : i+j])
		}
	}
	return fmt.Errorf("%s: %s status %d %q", what, p.url.Path, p.status, strings.TrimSpace(title))
}

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

func findForm(body, action string) (url.Values, bool) {
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		return nil, false
	}
	var out url.Values
	var walk func(n *html.Node, in bool)
	walk = func(n *html.Node, in bool) {
		if n.Type == html.ElementNode && n.Data == "form" {
			in = attr(n, "action") == action
			if in && out == nil {
				out = url.Values{}
			}
		}
		if in && n.Type == html.ElementNode && n.Data == "input" && attr(n, "name") != "" {
			out.Set(attr(n, "name"), attr(n, "value"))
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, in)
		}
	}
	walk(doc, false)
	return out, out != nil
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// kinds of sign-in
const (
	kindPassword      = iota
	kindPasswordES256 // the password tenant's client registered for ES256
	kindTOTP
	kindEnrol
)

// signIn runs one whole sign-in as a browser and an app would: /authorize with PKCE, the login form,
// the second factor (a code, or an enrolment: scan, confirm, recovery codes), the callback, the code
// exchange, and the ID token's verification against the JWKS.
func (e *env) signIn(ctx context.Context, kind int, scopes string) (tokens, error) {
	cl, verifier := e.pwClient, e.verifier
	var email string
	var tu *totpUser
	var step int64
	switch kind {
	case kindPassword, kindPasswordES256:
		email = e.pwUsers[int(time.Now().UnixNano()/1000)%len(e.pwUsers)]
		if kind == kindPasswordES256 {
			cl, verifier = e.esClient, e.esVerify
		}
	case kindTOTP:
		cl, verifier = e.mfaClient, e.mfaVerify
		var err error
		if tu, step, err = e.totp.take(ctx); err != nil {
			return tokens{}, err
		}
		email = tu.email
	case kindEnrol:
		cl, verifier = e.mfaClient, e.mfaVerify
		var err error
		if email, err = e.takeEnrolUser(); err != nil {
			return tokens{}, err
		}
	}
	state, nonce, pkce := randomString(), randomString(), oauth2.GenerateVerifier()
	q := url.Values{"client_id": {cl.id}, "redirect_uri": {redirectURI}, "response_type": {"code"}, "scope": {scopes},
		"state": {state}, "nonce": {nonce}, "code_challenge": {oauth2.S256ChallengeFromVerifier(pkce)}, "code_challenge_method": {"S256"}}
	b := e.newBrowser()
	p, err := b.do(ctx, http.MethodGet, e.disc.AuthorizationEndpoint+"?"+q.Encode(), nil)
	if err != nil {
		return tokens{}, fmt.Errorf("authorize: %w", err)
	}
	if p, err = b.submit(ctx, p, "/login/password", map[string]string{"email": email, "password": e.password}); err != nil {
		return tokens{}, fmt.Errorf("password: %w", err)
	}
	switch kind {
	case kindTOTP:
		code, err := totpCode(tu.key, time.Unix(step*30, 0))
		if err != nil {
			return tokens{}, err
		}
		if p, err = b.submit(ctx, p, "/login/otp", map[string]string{"code": code}); err != nil {
			return tokens{}, fmt.Errorf("otp: %w", err)
		}
	case kindEnrol:
		key, err := enrolmentSecret(p.body)
		if err != nil {
			return tokens{}, pageError(p, err.Error())
		}
		code, err := totpCode(key, time.Now())
		if err != nil {
			return tokens{}, err
		}
		if p, err = b.submit(ctx, p, "/login/enrol", map[string]string{"code": code}); err != nil {
			return tokens{}, fmt.Errorf("enrol: %w", err)
		}
		cont, ok := continueLink(p)
		if !ok {
			return tokens{}, pageError(p, "no continue link after the recovery codes")
		}
		if p, err = b.do(ctx, http.MethodGet, cont, nil); err != nil {
			return tokens{}, fmt.Errorf("continue: %w", err)
		}
	}
	if p.loc == nil {
		return tokens{}, pageError(p, "not sent back to the app")
	}
	if p.loc.Query().Get("state") != state || p.loc.Query().Get("code") == "" {
		return tokens{}, fmt.Errorf("callback: %s", p.loc.Query().Encode())
	}
	tok, err := e.token(ctx, cl, url.Values{"grant_type": {"authorization_code"}, "code": {p.loc.Query().Get("code")},
		"redirect_uri": {redirectURI}, "code_verifier": {pkce}})
	if err != nil {
		return tokens{}, err
	}
	idt, err := verifier.Verify(ctx, tok.IDToken)
	if err != nil {
		return tokens{}, fmt.Errorf("id token: %w", err)
	}
	if idt.Nonce != nonce {
		return tokens{}, errors.New("id token: nonce")
	}
	return tok, nil
}

var otpauthRe = regexp.MustCompile(`otpauth://totp/[^"'<> ]+`)

func enrolmentSecret(body string) ([]byte, error) {
	m := otpauthRe.FindString(strings.ReplaceAll(body, "&amp;", "&"))
	if m == "" {
		return nil, errors.New("no otpauth URI on the enrolment page")
	}
	u, err := url.Parse(m)
	if err != nil {
		return nil, err
	}
	return base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(u.Query().Get("secret")))
}

func continueLink(p *page) (string, bool) {
	i := strings.Index(p.body, "/authorize/callback?id=")
	if i < 0 {
		return "", false
	}
	j := strings.IndexAny(p.body[i:], `"'`)
	if j < 0 {
		return "", false
	}
	u, err := p.url.Parse(strings.ReplaceAll(p.body[i:i+j], "&amp;", "&"))
	if err != nil {
		return "", false
	}
	return u.String(), true
}

// token calls the token endpoint with client_secret_basic.
func (e *env) token(ctx context.Context, cl clientCreds, form url.Values) (tokens, error) {
	var t tokens
	body, err := e.post(ctx, e.disc.TokenEndpoint, cl, form)
	if err != nil {
		return t, fmt.Errorf("token: %w", err)
	}
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" {
		return t, fmt.Errorf("token: %.200s", body)
	}
	return t, nil
}

func (e *env) post(ctx context.Context, u string, cl clientCreds, form url.Values) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(cl.id), url.QueryEscape(cl.secret))
	return e.send(req)
}

func (e *env) send(req *http.Request) ([]byte, error) {
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %.200s", resp.StatusCode, body)
	}
	return body, nil
}

func (e *env) get(ctx context.Context, u, bearer string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return e.send(req)
}

const scopesRefresh = gooidc.ScopeOpenID + " profile email " + gooidc.ScopeOfflineAccess

// runMeasure runs one measure against Portcullis.
func runMeasure(ctx context.Context, o options, e *env, m string) (result, error) {
	pid := o.pid
	switch m {
	case "argon2id":
		r, err := argonBound(ctx, o)
		r.target = "this process"
		return r, err
	case "discovery":
		u := strings.TrimSuffix(o.target, "/") + "/.well-known/openid-configuration"
		return measure(ctx, o, "discovery", "portcullis", pid, nil, func(ctx context.Context, _ *worker) error {
			_, err := e.get(ctx, u, "")
			return err
		})
	case "jwks":
		return measure(ctx, o, "JWKS", "portcullis", pid, nil, func(ctx context.Context, _ *worker) error {
			_, err := e.get(ctx, e.disc.JWKSURI, "")
			return err
		})
	case "password":
		return measure(ctx, o, "password sign-in", "portcullis", pid, nil, func(ctx context.Context, _ *worker) error {
			_, err := e.signIn(ctx, kindPassword, "openid profile email")
			return err
		})
	case "totp":
		return measure(ctx, o, "password+TOTP sign-in", "portcullis", pid, nil, func(ctx context.Context, _ *worker) error {
			_, err := e.signIn(ctx, kindTOTP, "openid profile email")
			return err
		})
	case "enrol":
		return measure(ctx, o, "TOTP enrolment sign-in", "portcullis", pid, nil, func(ctx context.Context, _ *worker) error {
			_, err := e.signIn(ctx, kindEnrol, "openid profile email")
			return err
		})
	}
	// The token measures start from one sign-in per worker.
	setup := func(ctx context.Context, w *worker) error {
		t, err := e.signIn(ctx, kindPassword, scopesRefresh)
		w.state = t
		return err
	}
	switch m {
	case "userinfo":
		return measure(ctx, o, "userinfo", "portcullis", pid, setup, func(ctx context.Context, w *worker) error {
			_, err := e.get(ctx, e.disc.UserinfoEndpoint, w.state.(tokens).AccessToken)
			return err
		})
	case "refresh":
		return measure(ctx, o, "refresh", "portcullis", pid, setup, func(ctx context.Context, w *worker) error {
			t, err := e.token(ctx, e.pwClient, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {w.state.(tokens).RefreshToken}})
			if err != nil {
				return err
			}
			w.state = t // rotated: the old one is spent
			return nil
		})
	case "refresh-es256":
		setup := func(ctx context.Context, w *worker) error {
			t, err := e.signIn(ctx, kindPasswordES256, scopesRefresh)
			w.state = t
			return err
		}
		return measure(ctx, o, "refresh (ES256 client)", "portcullis", pid, setup, func(ctx context.Context, w *worker) error {
			t, err := e.token(ctx, e.esClient, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {w.state.(tokens).RefreshToken}})
			if err != nil {
				return err
			}
			w.state = t
			return nil
		})
	case "introspect":
		return measure(ctx, o, "introspection", "portcullis", pid, setup, func(ctx context.Context, w *worker) error {
			body, err := e.post(ctx, e.disc.IntrospectionEndpoint, e.pwClient, url.Values{"token": {w.state.(tokens).AccessToken}})
			if err != nil {
				return err
			}
			if !strings.Contains(string(body), `"active":true`) {
				return fmt.Errorf("introspection: %.200s", body)
			}
			return nil
		})
	}
	return result{}, fmt.Errorf("unknown measure %q", m)
}

// runCompare runs the same measure against the other OP.
func runCompare(ctx context.Context, o options, e *env, m string) (result, error) {
	var client *http.Client
	if e != nil {
		client = e.client
	} else {
		client = &http.Client{Transport: newTransport(o.concurrency), Timeout: 30 * time.Second}
	}
	d, err := fetchDiscovery(ctx, client, o.compare)
	if err != nil {
		return result{}, err
	}
	other := &env{client: client}
	switch m {
	case "discovery":
		u := strings.TrimSuffix(o.compare, "/") + "/.well-known/openid-configuration"
		return measure(ctx, o, "discovery", o.compareName, o.comparePID, nil, func(ctx context.Context, _ *worker) error {
			_, err := other.get(ctx, u, "")
			return err
		})
	case "jwks":
		return measure(ctx, o, "JWKS", o.compareName, o.comparePID, nil, func(ctx context.Context, _ *worker) error {
			_, err := other.get(ctx, d.JWKSURI, "")
			return err
		})
	case "userinfo":
		if o.compareToken == "" {
			return result{name: "userinfo", target: o.compareName + " (no -compare-token)", elapsed: time.Second, cpuPerOp: -1}, nil
		}
		return measure(ctx, o, "userinfo", o.compareName, o.comparePID, nil, func(ctx context.Context, _ *worker) error {
			_, err := other.get(ctx, d.UserinfoEndpoint, o.compareToken)
			return err
		})
	case "refresh":
		if len(o.compareRefresh) < o.concurrency {
			return result{name: "refresh", target: o.compareName + " (too few -compare-refresh-tokens)", elapsed: time.Second, cpuPerOp: -1}, nil
		}
		other.disc = d
		setup := func(_ context.Context, w *worker) error {
			w.state = tokens{RefreshToken: o.compareRefresh[w.id]}
			return nil
		}
		return measure(ctx, o, "refresh", o.compareName, o.comparePID, setup, func(ctx context.Context, w *worker) error {
			t, err := other.token(ctx, o.compareClient, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {w.state.(tokens).RefreshToken}})
			if err != nil {
				return err
			}
			if t.RefreshToken != "" { // rotated: the old one is spent
				o.compareRefresh[w.id] = t.RefreshToken
				w.state = t
			}
			return nil
		})
	}
	return result{}, fmt.Errorf("no comparison for %q", m)
}

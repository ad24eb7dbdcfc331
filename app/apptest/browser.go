package apptest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// Browser keeps cookies and follows redirects within the server; a redirect anywhere else (the app's
// redirect URI) ends the navigation and is reported in Page.Redirect.
type Browser struct {
	T      testing.TB
	Client *http.Client
	Jar    http.CookieJar
	Header http.Header // sent with every request (e.g. X-Forwarded-For behind a trusted proxy)
	host   string      // the issuer's host:port, where navigation stays
}

// Page is what a navigation ended on.
type Page struct {
	URL      *url.URL
	Status   int
	Header   http.Header
	Body     string
	Redirect *url.URL // set when the server sent the browser to another host (the app)
}

// NewBrowser returns a browser for the server at env.
func (e *Env) NewBrowser() *Browser {
	jar, _ := cookiejar.New(nil)
	host := e.Host()
	b := &Browser{T: e.T, Jar: jar, host: host}
	b.Client = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != host {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

// Rebase sends every later request of this browser for the issuer's host to the server of other (an
// instance started with the same issuer, see Env.Second), the way a load balancer would pick another
// instance: URLs, cookies and redirects still name the issuer, only the connection goes elsewhere.
func (b *Browser) Rebase(other *Env) {
	b.Client.Transport = Rebased(b.host, other)
}

// Rebased returns a transport that connects to other's server for requests addressed to host, and
// sends everything else as usual.
func Rebased(host string, other *Env) http.RoundTripper {
	return rebaseTransport{from: host, to: other.Server.Listener.Addr().String()}
}

type rebaseTransport struct{ from, to string }

func (rt rebaseTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != rt.from {
		return http.DefaultTransport.RoundTrip(r)
	}
	r2 := r.Clone(r.Context())
	r2.URL.Host = rt.to
	r2.Host = rt.from
	resp, err := http.DefaultTransport.RoundTrip(r2)
	if resp != nil {
		resp.Request = r // the page's URL names the issuer, not the instance
	}
	return resp, err
}

// Get navigates to u.
func (b *Browser) Get(u string) *Page {
	b.T.Helper()
	return b.do(http.MethodGet, u, nil)
}

// Post submits a form body to u.
func (b *Browser) Post(u string, form url.Values) *Page {
	b.T.Helper()
	return b.do(http.MethodPost, u, strings.NewReader(form.Encode()))
}

func (b *Browser) do(method, u string, body io.Reader) *Page {
	b.T.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.T.Fatalf("%s %s: %v", method, u, err)
	}
	for k, v := range b.Header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.Client.Do(req)
	if err != nil {
		b.T.Fatalf("%s %s: %v", method, u, err)
	}
	return b.page(resp)
}

func (b *Browser) page(resp *http.Response) *Page {
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := &Page{URL: resp.Request.URL, Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		if loc, err := resp.Location(); err == nil {
			p.Redirect = loc
		}
	}
	return p
}

// Form is an HTML form on a page.
type Form struct {
	Action string
	Fields url.Values // every input with a name, with its value attribute
}

// Forms parses the page's forms.
func (p *Page) Forms() []Form {
	doc, err := html.Parse(strings.NewReader(p.Body))
	if err != nil {
		return nil
	}
	var forms []Form
	var cur *Form
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "form" {
			forms = append(forms, Form{Action: attr(n, "action"), Fields: url.Values{}})
			cur = &forms[len(forms)-1]
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
			cur = nil
			return
		}
		if cur != nil && n.Type == html.ElementNode && (n.Data == "input" || n.Data == "button") && attr(n, "name") != "" {
			cur.Fields.Add(attr(n, "name"), attr(n, "value"))
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return forms
}

// Form returns the form posting to action (path), failing the test if there is none.
func (p *Page) Form(t testing.TB, action string) Form {
	t.Helper()
	for _, f := range p.Forms() {
		if f.Action == action {
			return f
		}
	}
	t.Fatalf("no form with action %q on %s (status %d):\n%s", action, p.URL, p.Status, p.Body)
	return Form{}
}

// CSRFToken returns the CSRF token of the page's first form that has one, or "".
func (p *Page) CSRFToken() string {
	for _, f := range p.Forms() {
		if v := f.Fields.Get("_csrf"); v != "" {
			return v
		}
	}
	return ""
}

// Submit fills the form with values (over its own fields, hidden ones included) and posts it.
func (b *Browser) Submit(p *Page, action string, values map[string]string) *Page {
	b.T.Helper()
	f := p.Form(b.T, action)
	for k, v := range values {
		f.Fields.Set(k, v)
	}
	u, err := p.URL.Parse(f.Action)
	if err != nil {
		b.T.Fatal(err)
	}
	return b.Post(u.String(), f.Fields)
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// Find returns the value of attribute attrName of the first element with the given id, or "".
func (p *Page) Find(id, attrName string) string {
	doc, err := html.Parse(strings.NewReader(p.Body))
	if err != nil {
		return ""
	}
	var out string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if out != "" {
			return
		}
		if n.Type == html.ElementNode && attr(n, "id") == id {
			if attrName == "" {
				var buf bytes.Buffer
				_ = html.Render(&buf, n)
				out = buf.String()
			} else {
				out = attr(n, attrName)
			}
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

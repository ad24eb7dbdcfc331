package clientreg

import (
	"strings"
	"testing"

	"github.com/portcullis/portcullis/storage"
)

func TestValidateRedirectURI(t *testing.T) {
	for _, tc := range []struct {
		uri  string
		ok   bool
		want string
	}{
		{"https://app.example.com/cb", true, ""},
		{"http://127.0.0.1:8123/cb", true, ""},
		{"http://[::1]/cb", true, ""},
		{"http://localhost:3000/callback?x=1", true, ""},
		{"http://app.example.com/cb", false, "https"},
		{"http://127.0.0.1.evil.example/cb", false, "https"},
		{"myapp://cb", false, "https"},
		{"https://app.example.com/cb#frag", false, "fragment"},
		{"https://user:pw@app.example.com/cb", false, "credentials"},
		{"/relative", false, "absolute"},
		{"", false, "absolute"},
		{"https://app.example/cb http://evil.example/steal", false, "whitespace"},
		{"https://app.example/cb\thttps://evil.example/", false, "whitespace"},
		{"https://app.example/cb\n", false, "whitespace"},
		{" https://app.example/cb", false, "whitespace"},
		{"https://app.example/c\u00a0b", false, "whitespace"},
		{"https://app.example/c\x00b", false, "control"},
		{"https://app.example/c\x7fb", false, "control"},
		{"https://app.example/c\xffb", false, "UTF-8"},
		{"https://app.example/cb?x=a%20b", true, ""},
		{"https://bücher.example/cb", true, ""},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			err := ValidateRedirectURI(tc.uri)
			if (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("ValidateRedirectURI(%q) = %v, want ok=%v (%q)", tc.uri, err, tc.ok, tc.want)
			}
		})
	}
}

func TestValidateClient(t *testing.T) {
	web := storage.Client{Name: "App", Grants: []string{GrantAuthorizationCode, GrantRefreshToken}, RedirectURIs: []string{"https://a.example/cb"}}
	for _, tc := range []struct {
		name string
		edit func(*storage.Client)
		want []string // every problem expected in the error; none: valid
	}{
		{"web app", func(*storage.Client) {}, nil},
		{"service", func(c *storage.Client) {
			c.Grants, c.RedirectURIs, c.Admin = []string{GrantClientCredentials}, nil, true
		}, nil},
		{"no name, unknown grant", func(c *storage.Client) { c.Name, c.Grants = "", []string{"password"} }, []string{"name", `grant "password"`}},
		{"code without redirect", func(c *storage.Client) { c.RedirectURIs = nil }, []string{"redirect_uris"}},
		{"refresh alone", func(c *storage.Client) { c.Grants = []string{GrantRefreshToken} }, []string{"refresh_token needs"}},
		{"admin console", func(c *storage.Client) { c.Admin = true }, nil}, // the tenant's admins sign in through it
		{"public admin", func(c *storage.Client) { c.Public, c.Admin = true, true }, []string{"public client", "be an admin client"}},
		{"bad post-logout", func(c *storage.Client) { c.PostLogoutURIs = []string{"http://evil.example/"} }, []string{"post_logout_redirect_uri"}},
		{"two redirect URIs in one", func(c *storage.Client) {
			c.RedirectURIs = []string{"https://app.example/cb http://evil.example/steal"}
		}, []string{"redirect_uri", "whitespace"}},
		{"two post-logout URIs in one", func(c *storage.Client) {
			c.PostLogoutURIs = []string{"https://app.example/\nhttps://evil.example/"}
		}, []string{"post_logout_redirect_uri", "whitespace"}},
		{"two grants in one", func(c *storage.Client) { c.Grants = []string{"authorization_code client_credentials"} }, []string{"grant"}},
		{"two scopes in one", func(c *storage.Client) { c.Scopes = []string{"crm.read portcullis:admin"} }, []string{"scope", "scope token"}},
		{"empty scope", func(c *storage.Client) { c.Scopes = []string{""} }, []string{"scope", "empty"}},
		{"scopes", func(c *storage.Client) { c.Scopes = []string{"crm.read", "urn:acme:crm/write"} }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := web
			tc.edit(&c)
			err := ValidateClient(c)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("valid client refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("invalid client accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestValidateScope(t *testing.T) {
	for _, tc := range []struct {
		scope string
		ok    bool
	}{
		{"crm.read", true},
		{"urn:acme:crm/write!#$%&'()*+,-./:;<=>?@[]^_`{|}~", true},
		{"", false},
		{"a b", false},
		{"a\tb", false},
		{"a\u00a0b", false},
		{"café", false},
		{`a"b`, false},
		{`a\b`, false},
		{"a\x7f", false},
	} {
		if err := ValidateScope(tc.scope); (err == nil) != tc.ok {
			t.Errorf("ValidateScope(%q) = %v, want ok=%v", tc.scope, err, tc.ok)
		}
	}
}

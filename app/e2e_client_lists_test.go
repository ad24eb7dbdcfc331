package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// A registered list item with whitespace in it would be stored as several items (lists are kept joined
// by spaces): the second of "https://app.example/cb http://evil.example/steal" would be a redirect URI
// nobody validated, plain http to any host, and /authorize would send codes to it. The admin API
// refuses such an item with a problem and stores nothing.
func TestAuditRedirectURISmuggling(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		e := newAdminEnv(t, st)
		env := e.env
		b := env.NewBrowser()
		tok := passwordToken(t, e.rp, b, e.admin.Email).AccessToken
		body := `{"name":"Smuggler","redirect_uris":["https://app.example/cb http://evil.example/steal"],"grants":["authorization_code"]}`
		r := e.call(t, http.MethodPost, "/clients", tok, body)
		wantProblem(t, "a redirect URI with a space", r, http.StatusBadRequest)
		if !strings.Contains(r.Body, "whitespace") {
			t.Errorf("the problem does not say what is wrong: %s", r.Body)
		}
		for name, body := range map[string]string{
			"post-logout URI with a line break": `{"name":"Smuggler","redirect_uris":["https://app.example/cb"],"post_logout_redirect_uris":["https://app.example/\nhttp://evil.example/"]}`,
			"redirect URI with a tab":           `{"name":"Smuggler","redirect_uris":["https://app.example/cb\thttp://evil.example/steal"]}`,
			"two scopes in one":                 `{"name":"Smuggler","redirect_uris":["https://app.example/cb"],"scopes":["crm.read portcullis:admin"]}`,
			"two grants in one":                 `{"name":"Smuggler","redirect_uris":["https://app.example/cb"],"grants":["authorization_code client_credentials"]}`,
		} {
			wantProblem(t, name, e.call(t, http.MethodPost, "/clients", tok, body), http.StatusBadRequest)
		}
		cls, err := st.ListClients(t.Context(), e.ten.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cls {
			if c.Name == "Smuggler" {
				t.Errorf("stored %+v", c)
			}
		}
		if n := len(auditEvents(t, st, e.ten.ID, "client.created")); n != 0 {
			t.Errorf("%d client.created events", n)
		}
	})
}

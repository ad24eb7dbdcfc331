package app_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// The discovery document advertises exactly what works.
func TestDiscoveryDocument(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		r := get(t, o.env.URL+"/.well-known/openid-configuration", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("discovery: %d", r.Status)
		}
		var d struct {
			Issuer                 string   `json:"issuer"`
			Authorization          string   `json:"authorization_endpoint"`
			Token                  string   `json:"token_endpoint"`
			Userinfo               string   `json:"userinfo_endpoint"`
			Introspection          string   `json:"introspection_endpoint"`
			Revocation             string   `json:"revocation_endpoint"`
			EndSession             string   `json:"end_session_endpoint"`
			JWKS                   string   `json:"jwks_uri"`
			ResponseTypes          []string `json:"response_types_supported"`
			GrantTypes             []string `json:"grant_types_supported"`
			CodeChallengeMethods   []string `json:"code_challenge_methods_supported"`
			ACRValues              []string `json:"acr_values_supported"`
			TokenAuthMethods       []string `json:"token_endpoint_auth_methods_supported"`
			ResponseModes          []string `json:"response_modes_supported"`
			IDTokenAlgs            []string `json:"id_token_signing_alg_values_supported"`
			DeviceAuthorization    *string  `json:"device_authorization_endpoint"`
			RequestURIParameter    bool     `json:"request_uri_parameter_supported"`
			ClaimsParameter        bool     `json:"claims_parameter_supported"`
			ScopesSupported        []string `json:"scopes_supported"`
			SubjectTypesSupported  []string `json:"subject_types_supported"`
			ClaimsSupported        []string `json:"claims_supported"`
			BackchannelLogout      bool     `json:"backchannel_logout_supported"`
			RequestParameter       bool     `json:"request_parameter_supported"`
			IntrospectionAuthMeths []string `json:"introspection_endpoint_auth_methods_supported"`
		}
		if err := json.Unmarshal([]byte(r.Body), &d); err != nil {
			t.Fatal(err)
		}
		var raw map[string]any
		_ = json.Unmarshal([]byte(r.Body), &raw)
		for _, tc := range []struct {
			name      string
			got, want any
		}{
			{"issuer", d.Issuer, o.env.URL},
			{"authorization_endpoint", d.Authorization, o.env.URL + authorizePath},
			{"token_endpoint", d.Token, o.env.URL + tokenPath},
			{"userinfo_endpoint", d.Userinfo, o.env.URL + userinfoPath},
			{"introspection_endpoint", d.Introspection, o.env.URL + introspectPath},
			{"revocation_endpoint", d.Revocation, o.env.URL + revokePath},
			{"end_session_endpoint", d.EndSession, o.env.URL + endSessionPath},
			{"jwks_uri", d.JWKS, o.env.URL + keysPath},
			{"response_types_supported", d.ResponseTypes, []string{"code"}},
			{"grant_types_supported", d.GrantTypes, []string{"authorization_code", "refresh_token", "client_credentials"}},
			{"code_challenge_methods_supported", d.CodeChallengeMethods, []string{"S256"}},
			{"response_modes_supported", d.ResponseModes, []string{"query", "form_post"}},
			{"token_endpoint_auth_methods_supported", d.TokenAuthMethods, []string{"client_secret_basic", "client_secret_post", "none"}},
			{"has device_authorization_endpoint", raw["device_authorization_endpoint"] != nil, false},
			{"request_uri_parameter_supported", d.RequestURIParameter, false},
			{"request_parameter_supported", d.RequestParameter, false},
			{"acr pwd", slices.Contains(d.ACRValues, "urn:portcullis:acr:pwd"), true},
			{"acr mfa", slices.Contains(d.ACRValues, "urn:portcullis:acr:mfa"), true},
			{"id token signed with RS256", slices.Contains(d.IDTokenAlgs, "RS256"), true},
			{"no implicit", slices.Contains(d.GrantTypes, "implicit"), false},
			{"scopes offline_access", slices.Contains(d.ScopesSupported, "offline_access"), true},
		} {
			if !equalJSON(tc.got, tc.want) {
				t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
			}
		}
		// The JWKS publishes public keys only.
		keys := get(t, o.env.URL+keysPath, nil)
		if keys.Status != http.StatusOK || strings.Contains(keys.Body, `"d"`) || !strings.Contains(keys.Body, `"kid"`) {
			t.Errorf("jwks: %d %s", keys.Status, keys.Body)
		}
	})
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// Token answers are not cached (RFC 6749 §5.1), errors included.
func TestTokenResponsesAreNotCached(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st, "openid", "offline_access")
		a, code := o.rp.SignIn(o.env.NewBrowser(), o.user.Email, pw)
		ok := postForm(t, o.env.URL, tokenPath, url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {o.client.RedirectURIs[0]}, "code_verifier": {a.Verifier}}, o.client.ID, o.secret)
		if ok.Status != http.StatusOK {
			t.Fatalf("exchange: %d %s", ok.Status, ok.Body)
		}
		rt, _ := ok.JSON(t)["refresh_token"].(string)
		refreshed := postForm(t, o.env.URL, tokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}},
			o.client.ID, o.secret)
		refused := postForm(t, o.env.URL, tokenPath, url.Values{"grant_type": {"authorization_code"}, "code": {"x"},
			"redirect_uri": {o.client.RedirectURIs[0]}}, o.client.ID, o.secret)
		for _, tc := range []struct {
			name       string
			r          response
			wantStatus int
		}{
			{"code exchange", ok, http.StatusOK},
			{"refresh", refreshed, http.StatusOK},
			{"error", refused, http.StatusBadRequest},
		} {
			if tc.r.Status != tc.wantStatus {
				t.Errorf("%s: status %d, want %d", tc.name, tc.r.Status, tc.wantStatus)
			}
			if cc := tc.r.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("%s: Cache-Control %q, want no-store", tc.name, cc)
			}
			if pr := tc.r.Header.Get("Pragma"); pr != "no-cache" {
				t.Errorf("%s: Pragma %q, want no-cache", tc.name, pr)
			}
			if ct := tc.r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("%s: Content-Type %q", tc.name, ct)
			}
		}
	})
}

// CORS at the token endpoint: only the origins of registered redirect URIs (browser apps) may call it.
func TestCORSPreflight(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		for _, tc := range []struct {
			name      string
			path      string
			origin    string
			wantAllow bool
		}{
			{"token, origin of a registered redirect URI", tokenPath, "http://127.0.0.1:1", true},
			{"token, another origin", tokenPath, "https://evil.example", false},
			{"token, same host with another port", tokenPath, "http://127.0.0.1:2", false},
			{"token, null origin", tokenPath, "null", false},
			{"userinfo, origin of a registered redirect URI", userinfoPath, "http://127.0.0.1:1", true},
			{"userinfo, another origin", userinfoPath, "https://evil.example", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req, err := http.NewRequest(http.MethodOptions, o.env.URL+tc.path, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Origin", tc.origin)
				req.Header.Set("Access-Control-Request-Method", http.MethodPost)
				req.Header.Set("Access-Control-Request-Headers", "authorization,content-type") // as browsers send it: lower case, sorted
				r := do(t, req)
				if r.Status >= 300 {
					t.Errorf("preflight status %d", r.Status)
				}
				allow := r.Header.Get("Access-Control-Allow-Origin")
				if tc.wantAllow != (allow == tc.origin) || (!tc.wantAllow && allow != "") {
					t.Errorf("Access-Control-Allow-Origin %q for %s, want allowed=%t", allow, tc.origin, tc.wantAllow)
				}
				if r.Header.Get("Access-Control-Allow-Credentials") != "" {
					t.Errorf("credentials allowed cross-origin")
				}
				if tc.wantAllow && !strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), http.MethodPost) {
					t.Errorf("Access-Control-Allow-Methods %q", r.Header.Get("Access-Control-Allow-Methods"))
				}
			})
		}
	})
}

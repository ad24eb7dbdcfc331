package app_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// TestMetricsRouteLabels checks that every request is labelled by the route its router matched: the
// account page and every login route get their own label (there is no route table in telemetry to fall
// behind), path parameters are never labels, and paths that no router knows count as "other".
func TestMetricsRouteLabels(t *testing.T) {
	env := apptest.New(t, storagetest.NewSQLite(t))
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct{ method, path, route string }{
		{http.MethodGet, "/admin/account", "/admin/account"},
		{http.MethodPost, "/admin/account/recovery-codes", "/admin/account/recovery-codes"},
		{http.MethodGet, "/admin/settings/users/u123/reset-mfa/confirm", "/admin/settings/users/{user}/reset-mfa/confirm"},
		{http.MethodGet, "/login/?authRequestID=nope", "/login/"},
		{http.MethodPost, "/login/password", "/login/password"},
		{http.MethodGet, "/login/otp", "/login/otp"},
		{http.MethodPost, "/login/otp", "/login/otp"},
		{http.MethodGet, "/login/recovery", "/login/recovery"},
		{http.MethodPost, "/login/recovery", "/login/recovery"},
		{http.MethodGet, "/login/enrol", "/login/enrol"},
		{http.MethodPost, "/login/enrol", "/login/enrol"},
		{http.MethodPost, "/login/enrol-code", "/login/enrol-code"},
		{http.MethodGet, "/login/logout", "/login/logout"},
		{http.MethodPost, "/login/logout", "/login/logout"},
		{http.MethodGet, "/login/logged-out", "/login/logged-out"},
		{http.MethodGet, "/login/static/portcullis.css", "/login/static/*"},
		{http.MethodGet, "/.well-known/openid-configuration", "/.well-known/openid-configuration"},
		{http.MethodGet, "/keys", "/keys"},
		{http.MethodPost, "/oauth/token", "/oauth/token"},
		{http.MethodGet, "/healthz", "/healthz"},
		{http.MethodGet, "/login/no-such-page", "other"},
		{http.MethodGet, "/admin/no-such-page", "other"},
		{http.MethodGet, "/no-such-page/4711", "other"},
		{http.MethodGet, "/device_authorization", "other"},
	} {
		req, err := http.NewRequest(tc.method, env.URL+tc.path, strings.NewReader(""))
		if err != nil {
			t.Fatal(err)
		}
		if tc.method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		want := `method="` + tc.method + `",route="` + tc.route + `",status="` + strconv.Itoa(resp.StatusCode) + `"}`
		// The middleware counts a request when its handler returns, which can be a moment after the
		// client has read the whole answer (a static file): wait for it, briefly.
		body := routeCounters(t, env)
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(body, want) && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
			body = routeCounters(t, env)
		}
		if !strings.Contains(body, want) {
			t.Errorf("%s %s: no counter with %s\n%s", tc.method, tc.path, want, body)
		}
	}
	body := routeCounters(t, env)
	for _, leak := range []string{"u123", "4711", "no-such-page", "portcullis.css", "nope"} {
		if strings.Contains(body, leak) {
			t.Errorf("a request path became a label (%q):\n%s", leak, body)
		}
	}
}

// routeCounters returns the lines of portcullis_http_requests_total that the metrics listener serves.
func routeCounters(t *testing.T, env *apptest.Env) string {
	t.Helper()
	rec := httptest.NewRecorder()
	env.App.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	var out []string
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "portcullis_http_requests_total{") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

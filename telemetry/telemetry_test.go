package telemetry

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRouteLabel(t *testing.T) {
	for _, tc := range []struct {
		name     string
		reported *string // nil: no router reported
		mux      string  // Request.Pattern set by the http.ServeMux
		want     string
	}{
		{name: "mux leaf with method", mux: "GET /healthz", want: "/healthz"},
		{name: "mux leaf", mux: "/authorize", want: "/authorize"},
		{name: "mux leaf with host", mux: "POST example.com/oauth/token", want: "/oauth/token"},
		{name: "mux exact root", mux: "GET /{$}", want: "/"},
		{name: "mux subtree nobody reported", mux: "/", want: "other"},
		{name: "mux subtree of a router that did not report", mux: "/login/", want: "other"},
		{name: "nothing matched", want: "other"},
		{name: "echo route", reported: ptr("/login/otp"), mux: "/login/", want: "/login/otp"},
		{name: "echo route with params", reported: ptr("/api/v1/tenants/:tenant/users/:user/mfa"), mux: "/api/",
			want: "/api/v1/tenants/{tenant}/users/{user}/mfa"},
		{name: "echo wildcard", reported: ptr("/login/static/*"), mux: "/login/", want: "/login/static/*"},
		{name: "chi route", reported: ptr("/oauth/token"), mux: "/", want: "/oauth/token"},
		{name: "router matched nothing", reported: ptr(""), mux: "/", want: "other"},
		{name: "router matched nothing under a mux leaf", reported: ptr(""), mux: "/authorize", want: "other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &routeLabel{}
			if tc.reported != nil {
				ctx := context.WithValue(context.Background(), routeKey{}, l)
				SetRoute(ctx, "/first") // the last report wins
				SetRoute(ctx, *tc.reported)
			}
			if got := l.label(tc.mux); got != tc.want {
				t.Errorf("label(%q) = %q, want %q", tc.mux, got, tc.want)
			}
		})
	}
	SetRoute(context.Background(), "/x") // without Middleware: nothing to fill, no panic
}

func ptr(s string) *string { return &s }

// TestMiddlewareRouteFromRouters serves through a real http.ServeMux with routers inside that report
// their routes, and reads the labels back from the metrics.
func TestMiddlewareRouteFromRouters(t *testing.T) {
	m := NewMetrics()
	inner := func(known map[string]string) http.Handler { // a router: path -> registered pattern
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			SetRoute(r.Context(), known[r.URL.Path])
			if known[r.URL.Path] == "" {
				http.NotFound(w, r)
			}
		})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(http.ResponseWriter, *http.Request) {})
	mux.Handle("/api/", inner(map[string]string{"/api/v1/tenants/acme/users/u1": "/api/v1/tenants/:tenant/users/:user"}))
	mux.Handle("/", inner(map[string]string{"/oauth/token": "/oauth/token"}))
	mux.Handle("/quiet/", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})) // a subtree that reports nothing
	h := Middleware(slog.New(slog.DiscardHandler), m, mux)
	for _, p := range []string{"/healthz", "/api/v1/tenants/acme/users/u1", "/api/v1/tenants/acme/users/u2/x", "/oauth/token",
		"/nope/" + strings.Repeat("x", 10), "/quiet/abc"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, p, nil))
	}
	body := scrape(t, m)
	for _, want := range []string{
		`portcullis_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		`portcullis_http_requests_total{method="GET",route="/api/v1/tenants/{tenant}/users/{user}",status="200"} 1`,
		`portcullis_http_requests_total{method="GET",route="/oauth/token",status="200"} 1`,
		`portcullis_http_requests_total{method="GET",route="other",status="404"} 2`,
		`portcullis_http_requests_total{method="GET",route="other",status="200"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s\n%s", want, body)
		}
	}
	if strings.Contains(body, "acme") || strings.Contains(body, "xxxxxxxxxx") || strings.Contains(body, "/quiet") {
		t.Errorf("a request path became a label:\n%s", body)
	}
}

// scrape returns the request counters of m in the Prometheus text format.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	var out []string
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "portcullis_http_requests_total{") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func TestMiddlewareRequestIDAndAccessLog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(ContextHandler{slog.NewJSONHandler(&buf, nil)})
	m := NewMetrics()
	h := Middleware(log, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.InfoContext(r.Context(), "inside")
		w.WriteHeader(http.StatusTeapot)
	}))
	for _, tc := range []struct{ in, keep string }{{"abc-123", "abc-123"}, {"bad id with spaces", ""}, {"", ""}} {
		buf.Reset()
		req := httptest.NewRequest(http.MethodGet, "/login/otp?code=123456&state=s3cret", nil)
		if tc.in != "" {
			req.Header.Set("X-Request-Id", tc.in)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		id := rec.Header().Get("X-Request-Id")
		if id == "" || (tc.keep != "" && id != tc.keep) || (tc.keep == "" && id == tc.in) {
			t.Errorf("incoming %q: answered id %q", tc.in, id)
		}
		out := buf.String()
		if strings.Count(out, `"request_id":"`+id+`"`) != 2 {
			t.Errorf("both log lines must carry the request id:\n%s", out)
		}
		if strings.Contains(out, "123456") || strings.Contains(out, "s3cret") || !strings.Contains(out, `"status":418`) {
			t.Errorf("access log leaks the query or lacks the status:\n%s", out)
		}
	}
}

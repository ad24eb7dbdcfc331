package telemetry

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRoute(t *testing.T) {
	for path, want := range map[string]string{
		"/authorize":                              "/authorize",
		"/login/otp":                              "/login/otp",
		"/login/static/portcullis.css":            "/login/static/*",
		"/api/v1/tenants/acme/mfa-policy":         "/api/v1/tenants/{tenant}/*",
		"/api/v1/tenants/acme/users/u1/mfa":       "/api/v1/tenants/{tenant}/users/{user}",
		"/api/v1/tenants/acme/clients/c1":         "/api/v1/tenants/{tenant}/clients/{client}",
		"/admin/settings/users/u1/reset-mfa":      "/admin/settings/users/{user}/reset-mfa",
		"/nope/" + strings.Repeat("x", 10):        "other",
		"/api/v1/tenants/acme/users/u1/mfa/extra": "other",
	} {
		if got := Route(path); got != want {
			t.Errorf("Route(%q) = %q, want %q", path, got, want)
		}
	}
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

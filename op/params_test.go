package op

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestFormProblem(t *testing.T) {
	once := []string{"redirect_uri", "client_id"}
	for _, tc := range []struct {
		name        string
		method, url string
		body        string
		limit       int64
		want        int
	}{
		{"plain", http.MethodGet, "/authorize?client_id=a&redirect_uri=b", "", 0, 0},
		{"repeated in the query", http.MethodGet, "/authorize?client_id=a&redirect_uri=b&redirect_uri=c", "", 0, http.StatusBadRequest},
		{"repeated empty", http.MethodGet, "/authorize?client_id=a&redirect_uri=&redirect_uri=b", "", 0, http.StatusBadRequest},
		{"in the query and the body", http.MethodPost, "/authorize?client_id=a", "client_id=b", 0, http.StatusBadRequest},
		{"an unlisted parameter repeats", http.MethodGet, "/authorize?client_id=a&resource=x&resource=y", "", 0, 0},
		{"semicolon in the query", http.MethodGet, "/authorize?client_id=a&x=;", "", 0, http.StatusBadRequest},
		{"broken escape in the query", http.MethodGet, "/authorize?client_id=a&x=%zz", "", 0, http.StatusBadRequest},
		{"semicolon in the body", http.MethodPost, "/oauth/token", "client_id=a&x=;", 0, http.StatusBadRequest},
		{"body over the limit", http.MethodPost, "/oauth/token", "client_id=" + strings.Repeat("a", 100), 64, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
			if tc.body != "" {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if tc.limit > 0 {
				r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, tc.limit)
			}
			status, e := formProblem(r, once)
			if status != tc.want || (e == nil) != (tc.want == 0) {
				t.Fatalf("got %d %v, want %d", status, e, tc.want)
			}
			if e != nil && e.ErrorType != "invalid_request" {
				t.Errorf("error %q", e.ErrorType)
			}
		})
	}
}

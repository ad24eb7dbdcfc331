package op

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"
)

// reportRoute tells route the pattern of the library's (chi) route that served the request, "" when
// none matched. It reads the pattern after the request was served: chi knows it only once it routed.
func reportRoute(route func(context.Context, string)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			route(r.Context(), chi.RouteContext(r.Context()).RoutePattern())
		})
	}
}

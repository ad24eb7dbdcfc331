package telemetry

import (
	"context"
	"strings"
)

// other is the route label of requests that no router matched.
const other = "other"

type routeKey struct{}

// routeLabel is what Middleware puts in the request context for the routers to fill: the pattern of
// the route that matched, as the router that served the request reports it.
type routeLabel struct {
	pattern  string
	reported bool
}

// SetRoute reports the pattern of the route that matched the request of ctx, as it was registered with
// the router ("/login/otp", "/api/v1/tenants/:tenant/users/:user", "/oauth/token"), to Middleware,
// which labels the request's metrics with it. Each router reports what it matched, so there is no
// table of routes to keep in step with them. An empty pattern says the router matched nothing: the
// request is counted as "other". When routers are nested, the inner one reports last and the last
// report wins. Without Middleware SetRoute does nothing.
func SetRoute(ctx context.Context, pattern string) {
	if l, ok := ctx.Value(routeKey{}).(*routeLabel); ok {
		l.pattern, l.reported = pattern, true
	}
}

// label is the route label of a request: the reported pattern, else the pattern of the http.ServeMux
// that routed it (muxPattern, from Request.Pattern), else "other". A ServeMux subtree pattern ("/",
// "/login/") only says which router got the request, so unless that router reports a route it counts
// as "other". The label set is bounded by the routes registered in the code: a path never becomes a
// label.
func (l *routeLabel) label(muxPattern string) string {
	if l.reported {
		return normalise(l.pattern)
	}
	// A ServeMux pattern is "[METHOD ][HOST]/[PATH]"; the method is a label of its own.
	p := muxPattern
	if i := strings.IndexByte(p, ' '); i >= 0 {
		p = strings.TrimLeft(p[i+1:], " \t")
	}
	if i := strings.IndexByte(p, '/'); i > 0 {
		p = p[i:]
	}
	if exact, ok := strings.CutSuffix(p, "{$}"); ok {
		return normalise(exact)
	}
	if strings.HasSuffix(p, "/") {
		return other
	}
	return normalise(p)
}

// normalise writes path parameters the one way, "{name}" (echo registers them as ":name"), so that
// dashboards see one vocabulary whichever router matched.
func normalise(pattern string) string {
	if pattern == "" {
		return other
	}
	if !strings.Contains(pattern, "/:") {
		return pattern
	}
	segs := strings.Split(pattern, "/")
	for i, s := range segs {
		if name, ok := strings.CutPrefix(s, ":"); ok && name != "" {
			segs[i] = "{" + name + "}"
		}
	}
	return strings.Join(segs, "/")
}

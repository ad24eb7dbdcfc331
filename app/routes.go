package app

import (
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/telemetry"
)

// echoRoutes reports to the telemetry middleware the route of e that matched each request (c.Path(), as
// registered, e.g. "/api/v1/tenants/:tenant/users/:user"). A path that only echo's not-found catch-alls
// matched (the "/*" that group middleware registers) is reported as no route, so it counts as "other".
// The set of real routes is read at the first request, when every route is registered.
func echoRoutes(e *echo.Echo) echo.MiddlewareFunc {
	known := sync.OnceValue(func() map[string]bool {
		m := map[string]bool{}
		for _, r := range e.Routes() {
			if r.Method != echo.RouteNotFound {
				m[r.Path] = true
			}
		}
		return m
	})
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p := c.Path()
			if !known()[p] {
				p = ""
			}
			telemetry.SetRoute(c.Request().Context(), p)
			return next(c)
		}
	}
}

package admin

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
)

// APIErrorHandler is the admin API's one error path for what reaches echo outside its handlers (an
// unknown route or method under /api/): an RFC 9457 problem document, as every handler answers.
func APIErrorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		status, detail := http.StatusInternalServerError, ""
		var he *echo.HTTPError
		if errors.As(err, &he) {
			status = he.Code
			if m, ok := he.Message.(string); ok && status < 500 {
				detail = m
			}
		}
		if status >= 500 {
			log.ErrorContext(c.Request().Context(), "admin API request failed", "path", c.Request().URL.Path, "err", err)
		}
		_ = problem(c, status, http.StatusText(status), detail)
	}
}

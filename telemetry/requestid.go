package telemetry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
	"time"
)

type requestIDKey struct{}

// RequestID returns the request id carried by ctx ("" if none).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

var validID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Middleware gives every request an id (a sane incoming X-Request-Id is kept, so a proxy's id links the
// logs), answers it in X-Request-Id, writes one access-log line and records the metrics, labelled by the
// route that the routers inside report with SetRoute (or the pattern of the http.ServeMux that next
// is). The log line has the path but never the query string, which carries codes and states.
func Middleware(log *slog.Logger, m *Metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validID.MatchString(id) {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		route := &routeLabel{}
		ctx = context.WithValue(ctx, routeKey{}, route)
		sw := &statusWriter{ResponseWriter: w}
		rr := r.WithContext(ctx)
		next.ServeHTTP(sw, rr) // an http.ServeMux sets rr.Pattern when it routes rr
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		d := time.Since(start)
		if m != nil {
			m.observe(r, route.label(rr.Pattern), sw.status, d)
		}
		log.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", sw.status), slog.Duration("duration", d))
	})
}

// ContextHandler adds the request id of the record's context to every log line.
type ContextHandler struct{ slog.Handler }

// Handle adds request_id.
func (h ContextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the wrapper.
func (h ContextHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return ContextHandler{h.Handler.WithAttrs(a)}
}

// WithGroup keeps the wrapper.
func (h ContextHandler) WithGroup(n string) slog.Handler {
	return ContextHandler{h.Handler.WithGroup(n)}
}

// Package telemetry is what operators see: Prometheus metrics, request ids, and the access log.
//
// It owns the metrics (one registry of its own, no global state), the request id and its log handler,
// and the route label of the request metrics: Middleware puts a holder in the request context, and each
// router reports the pattern it matched with SetRoute, so no table of routes lives here.
//
// It imports no package of ours and no router (echo, chi): the routers' adapters live with the routers
// (app for echo, op for the provider's chi router) and call SetRoute. Nothing below app imports it.
package telemetry

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds Portcullis' Prometheus metrics in a registry of its own (no global state).
type Metrics struct {
	Registry   *prometheus.Registry
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	signIns    *prometheus.CounterVec
	enrolments prometheus.Counter
	lockouts   *prometheus.CounterVec
	tokens     *prometheus.CounterVec
}

// NewMetrics registers every metric, plus the Go runtime and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portcullis_http_requests_total",
		Help: "HTTP requests by route, method and status."}, []string{"route", "method", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "portcullis_http_request_duration_seconds",
		Help: "HTTP request latency by route and method.", Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}},
		[]string{"route", "method"})
	m.signIns = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portcullis_sign_in_steps_total",
		Help: "Sign-in steps by factor (pwd, otp, rec, session) and outcome (accepted, refused, replayed)."}, []string{"factor", "outcome"})
	m.enrolments = prometheus.NewCounter(prometheus.CounterOpts{Name: "portcullis_mfa_enrolments_total",
		Help: "Confirmed TOTP enrolments."})
	m.lockouts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portcullis_lockouts_total",
		Help: "Lockouts by kind (pwd, otp)."}, []string{"kind"})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portcullis_tokens_issued_total",
		Help: "Access tokens issued by grant type."}, []string{"grant"})
	m.Registry.MustRegister(m.requests, m.latency, m.signIns, m.enrolments, m.lockouts, m.tokens,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// SignInStep counts one sign-in step.
func (m *Metrics) SignInStep(factor, outcome string) {
	m.signIns.WithLabelValues(factor, outcome).Inc()
}

// Enrolled counts a confirmed enrolment.
func (m *Metrics) Enrolled() { m.enrolments.Inc() }

// Lockout counts a lockout of kind "pwd" or "otp".
func (m *Metrics) Lockout(kind string) { m.lockouts.WithLabelValues(kind).Inc() }

// TokenIssued counts an access token by grant type.
func (m *Metrics) TokenIssued(grant string) { m.tokens.WithLabelValues(grant).Inc() }

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe records the request in the metrics under its route label.
func (m *Metrics) observe(r *http.Request, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, r.Method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, r.Method).Observe(d.Seconds())
}

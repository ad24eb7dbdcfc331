package app_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/app"
	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
	"github.com/portcullis/portcullis/telemetry"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A full flow at debug level logs no password, code, secret, recovery code, token or cookie, and every
// request line carries a request id.
func TestLogsHoldNoSecrets(t *testing.T) {
	var logs syncBuffer
	log := slog.New(telemetry.ContextHandler{Handler: slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})})
	env := apptest.NewLogged(t, storagetest.NewSQLite(t), log)
	ten := env.Tenant("Acme")
	env.User(ten.ID, "ann@acme.test", pw, storage.RoleMember)
	c, sec := env.Client(ten.ID, apptest.ClientOptions{})
	env.SetMFA(ten.ID, true)
	rp := env.RP(c, sec, "openid", "email", "offline_access")
	m := &mfaEnv{env: env, ten: ten, user: storage.User{Email: "ann@acme.test"}, rp: rp}
	b := env.NewBrowser()
	secret, codes, a, p := m.enrol(t, b)
	code := a.Code(t, p)
	tok, err := rp.Exchange(code, a)
	if err != nil {
		t.Fatal(err)
	}
	// A failed attempt and a wrong code are logged as events, without the values.
	env.Clock.Advance(30 * time.Second)
	b2 := env.NewBrowser()
	_, p = m.password(t, b2)
	b2.Submit(p, "/login/otp", map[string]string{"code": "123456"})

	secrets := map[string]string{"password": pw, "client secret": sec, "auth code": code, "access token": tok.AccessToken,
		"refresh token": tok.RefreshToken, "id token": tok.Extra("id_token").(string),
		"totp secret": base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret), "recovery code": codes[0],
		"totp code": apptest.Code(t, secret, env.Clock.Now()), "state": a.State, "nonce": a.Nonce}
	u, _ := url.Parse(env.URL)
	for _, ck := range b.Jar.Cookies(u) {
		secrets["cookie "+ck.Name] = ck.Value
	}
	out := logs.String()
	if !strings.Contains(out, `"request_id"`) {
		t.Fatalf("no request ids in the log:\n%s", out)
	}
	for name, v := range secrets {
		// A 6-digit code could turn up inside a timestamp by chance: only a standalone match counts.
		if len(v) >= 6 && regexp.MustCompile(`(^|[^0-9])`+regexp.QuoteMeta(v)+`([^0-9]|$)`).MatchString(out) {
			t.Errorf("the log contains the %s", name)
		}
	}
}

func TestMetricsAndProbes(t *testing.T) {
	env := apptest.New(t, storagetest.NewSQLite(t))
	ten := env.Tenant("Acme")
	env.User(ten.ID, "ann@acme.test", pw, storage.RoleMember)
	c, sec := env.Client(ten.ID, apptest.ClientOptions{})
	rp := env.RP(c, sec)
	a, code := rp.SignIn(env.NewBrowser(), "ann@acme.test", pw)
	if _, err := rp.Exchange(code, a); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(env.URL + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", path, resp, err)
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("%s: no X-Request-Id", path)
		}
		resp.Body.Close()
	}
	// The metrics are not on the main listener: only on their own (metrics_listen).
	resp, err := http.Get(env.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || strings.Contains(string(body), "portcullis_") {
		t.Errorf("GET /metrics on the main handler: %d, want 404 without metrics\n%.300s", resp.StatusCode, body)
	}
	msrv := httptest.NewServer(env.App.MetricsHandler())
	defer msrv.Close()
	resp, err = http.Get(msrv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`portcullis_http_requests_total{method="POST",route="/login/password",status="303"} 1`,
		`portcullis_sign_in_steps_total{factor="pwd",outcome="accepted"} 1`,
		`portcullis_tokens_issued_total{grant="authorization_code"} 1`,
		`portcullis_http_request_duration_seconds_bucket{method="POST",route="/oauth/token"`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// SIGTERM (a cancelled context) lets the in-flight request finish before Serve returns.
func TestGracefulShutdown(t *testing.T) {
	st := storagetest.NewSQLite(t)
	cfg := app.Defaults()
	cfg.Listen, cfg.Dev, cfg.SecretKey = "127.0.0.1:0", false, "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	a, err := app.New(context.Background(), cfg, app.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	inner := a.Handler
	a.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
			_, _ = io.WriteString(w, "finished")
			return
		}
		inner.ServeHTTP(w, r)
	})
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, func(s string) { addr <- s }) }()
	base := "http://" + <-addr
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Serve returned before the request finished: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if b := <-got; b != "finished" {
		t.Fatalf("in-flight request got %q", b)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

// Serve puts /metrics on metrics_listen only: the main address answers 404 there, the metrics address
// serves the Prometheus text and nothing else.
func TestServeMetricsOnTheirOwnListener(t *testing.T) {
	st := storagetest.NewSQLite(t)
	cfg := app.Defaults()
	cfg.Listen, cfg.MetricsListen, cfg.Dev = "127.0.0.1:0", "127.0.0.1:0", false
	cfg.SecretKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	a, err := app.New(context.Background(), cfg, app.Options{Store: st, Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, func(s string) { addr <- s }) }()
	base := "http://" + <-addr
	m := regexp.MustCompile(`"msg":"metrics listening","addr":"([^"]+)"`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no metrics listener logged:\n%s", logs.String())
	}
	metrics := "http://" + m[1]
	get := func(u string) (int, string) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	if code, _ := get(base + "/healthz"); code != http.StatusOK {
		t.Fatalf("main /healthz: %d", code)
	}
	if code, body := get(base + "/metrics"); code != http.StatusNotFound || strings.Contains(body, "portcullis_") {
		t.Errorf("main /metrics: %d, want 404 without metrics", code)
	}
	if code, body := get(metrics + "/metrics"); code != http.StatusOK ||
		!strings.Contains(body, `portcullis_http_requests_total{method="GET",route="/healthz",status="200"} 1`) {
		t.Errorf("metrics /metrics: %d\n%.500s", code, body)
	}
	for _, path := range []string{"/healthz", "/login/", "/.well-known/openid-configuration"} {
		if code, _ := get(metrics + path); code != http.StatusNotFound {
			t.Errorf("metrics listener serves %s: %d", path, code)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := http.Get(metrics + "/metrics"); err == nil {
		t.Error("the metrics listener is still open after shutdown")
	}
}

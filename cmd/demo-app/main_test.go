package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/app"
	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage/storagetest"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    config
		wantErr string
	}{
		{
			name: "defaults match the dev bootstrap: no well-known secret, the bootstrap's client file",
			want: config{Listen: "127.0.0.1:9090", Issuer: "http://localhost:8080", ClientFile: "portcullis.demo-client.json",
				PublicURL: "http://localhost:9090"},
		},
		{
			name: "environment over defaults, flags over environment",
			args: []string{"--issuer", "https://id.example.com", "--public-url", "https://demo.example.com/"},
			env: map[string]string{"DEMO_ISSUER": "http://ignored", "DEMO_CLIENT_ID": "app1", "DEMO_CLIENT_SECRET": "s3",
				"DEMO_LISTEN": ":7000", "DEMO_CLIENT_FILE": "/run/demo.json"},
			want: config{Listen: ":7000", Issuer: "https://id.example.com", ClientID: "app1", ClientSecret: "s3",
				ClientFile: "/run/demo.json", PublicURL: "https://demo.example.com"},
		},
		{name: "relative public URL", args: []string{"--public-url", "/demo"}, wantErr: "not an absolute"},
		{name: "stray argument", args: []string{"serve"}, wantErr: "unexpected arguments"},
		{name: "unknown flag", args: []string{"--nope"}, wantErr: "not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseConfig(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
			if ac := got.app(); ac.RedirectURL != got.PublicURL+"/callback" || ac.PostLogoutURL != got.PublicURL+"/" {
				t.Errorf("redirect %q, post-logout %q", ac.RedirectURL, ac.PostLogoutURL)
			}
		})
	}
}

// The client id and secret come from the flags or environment when a secret is given there, else from
// the client file (the dev bootstrap's, or `portcullis client create -o json`); without either the
// error says how to get one.
func TestWithClientFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	boot := write("boot.json", `{"id":"demo-app","secret":"gen-1","issuer":"http://localhost:8080"}`)
	cli := write("cli.json", `{"id":"3f2a","secret":"gen-2","tenant_id":"t1","name":"Demo App","public":false}`)
	tests := []struct {
		name            string
		in              config
		wantID, wantSec string
		wantErr         string
	}{
		{name: "bootstrap file", in: config{ClientFile: boot}, wantID: "demo-app", wantSec: "gen-1"},
		{name: "CLI output", in: config{ClientFile: cli}, wantID: "3f2a", wantSec: "gen-2"},
		{name: "id given, secret from the file", in: config{ClientID: "other", ClientFile: cli}, wantID: "other", wantSec: "gen-2"},
		{name: "secret given: no file needed", in: config{ClientSecret: "s", ClientFile: filepath.Join(dir, "none.json")},
			wantID: "demo-app", wantSec: "s"},
		{name: "no file", in: config{ClientFile: filepath.Join(dir, "none.json")},
			wantErr: "go run ./cmd/portcullis` in dev mode"},
		{name: "not JSON", in: config{ClientFile: write("bad.json", "demo-app-secret")}, wantErr: "bad.json"},
		{name: "no secret", in: config{ClientFile: write("nosec.json", `{"id":"x"}`)}, wantErr: `no "secret"`},
		{name: "no id", in: config{ClientFile: write("noid.json", `{"secret":"x"}`)}, wantErr: `no "id"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.withClientFile(os.ReadFile)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ClientID != tc.wantID || got.ClientSecret != tc.wantSec {
				t.Errorf("client %q secret %q, want %q %q", got.ClientID, got.ClientSecret, tc.wantID, tc.wantSec)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer that run's goroutine and the test may share.
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

// The quick start: the dev bootstrap makes the demo client with a generated secret and keeps it in its
// file; the demo app, given only that file (its default is the file in the working folder), signs the
// demo member in.
func TestRunServesUntilCancelled(t *testing.T) {
	dir := t.TempDir()
	env := apptest.New(t, storagetest.NewSQLite(t), func(c *app.Config) {
		c.Dev = true
		c.Database = filepath.Join(dir, "portcullis.db")
	})
	var boot bytes.Buffer
	if err := env.App.BootstrapDemo(context.Background(), &boot); err != nil {
		t.Fatal(err)
	}
	pw := regexp.MustCompile(`member@demo\.test  password (\S+)`).FindStringSubmatch(boot.String())
	if pw == nil {
		t.Fatalf("no member password in:\n%s", boot.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--issuer", env.URL}, func(k string) string {
			if k == "DEMO_CLIENT_FILE" {
				return filepath.Join(dir, app.DemoClientFileName)
			}
			return ""
		}, &stdout, &stderr)
	}()

	addr := regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)
	deadline := time.Now().Add(10 * time.Second)
	var m []string
	for m = addr.FindStringSubmatch(stdout.String()); m == nil; m = addr.FindStringSubmatch(stdout.String()) {
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("run did not start; stdout %q stderr %q", stdout.String(), stderr.String())
		}
	}
	resp, err := http.Get("http://" + m[1] + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Sign in with Portcullis") {
		t.Fatalf("GET /: %d\n%s", resp.StatusCode, body)
	}

	// Sign in through the demo app. Its public URL is the default http://localhost:9090, which is the
	// redirect URI the bootstrap registered; the browser brings the code to where it really listens.
	demo := "http://" + m[1]
	b := env.NewBrowser()
	p := b.Get(demo + "/login") // the demo app sends the browser to /authorize, which leads to the sign-in page
	if p.URL.Host != env.Host() || p.URL.Path != "/login/" || p.Status != http.StatusOK {
		t.Fatalf("/login did not lead to the provider's sign-in page: %d %s\n%s", p.Status, p.URL, p.Body)
	}
	p = b.Submit(p, "/login/password", map[string]string{"email": "member@demo.test", "password": pw[1]})
	if p.Redirect == nil || p.Redirect.Path != "/callback" || p.Redirect.Query().Get("code") == "" {
		t.Fatalf("no code for the demo app: %d %v\n%s", p.Status, p.Redirect, p.Body)
	}
	b.Get(demo + "/callback?" + p.Redirect.RawQuery)
	if p = b.Get(demo + "/"); !strings.Contains(p.Body, "member@demo.test") {
		t.Fatalf("the demo app does not show the signed-in member (%d):\n%s\n%s", p.Status, p.Body, stderr.String())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop after the context was cancelled")
	}
}

func TestRunFailsWithoutTheProvider(t *testing.T) {
	err := run(context.Background(), []string{"--issuer", "http://127.0.0.1:1", "--client-secret", "s"}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "is it running?") {
		t.Fatalf("err = %v, want a discovery error", err)
	}
}

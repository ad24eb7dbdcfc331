package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

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
			name: "defaults match the dev bootstrap",
			want: config{Listen: "127.0.0.1:9090", Issuer: "http://localhost:8080", ClientID: "demo-app",
				ClientSecret: "demo-app-secret", PublicURL: "http://localhost:9090"},
		},
		{
			name: "environment over defaults, flags over environment",
			args: []string{"--issuer", "https://id.example.com", "--public-url", "https://demo.example.com/"},
			env: map[string]string{"DEMO_ISSUER": "http://ignored", "DEMO_CLIENT_ID": "app1", "DEMO_CLIENT_SECRET": "s3",
				"DEMO_LISTEN": ":7000"},
			want: config{Listen: ":7000", Issuer: "https://id.example.com", ClientID: "app1", ClientSecret: "s3",
				PublicURL: "https://demo.example.com"},
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

func TestRunServesUntilCancelled(t *testing.T) {
	env := apptest.New(t, storagetest.NewSQLite(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--issuer", env.URL}, func(string) string { return "" }, &stdout, &stderr)
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
	err := run(context.Background(), []string{"--issuer", "http://127.0.0.1:1"}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "is it running?") {
		t.Fatalf("err = %v, want a discovery error", err)
	}
}

package app_test

import (
	"strings"
	"testing"

	"github.com/portcullis/portcullis/app"
)

// Dev mode (the default) stays on this machine: it refuses a listen address or an issuer that is not
// loopback, and its default listen address is loopback.
func TestDevModeIsLoopbackOnly(t *testing.T) {
	if d := app.Defaults(); !d.Dev || d.Listen != "127.0.0.1:8080" || d.MetricsListen != "" {
		t.Fatalf("defaults: dev %v, listen %q, metrics_listen %q", d.Dev, d.Listen, d.MetricsListen)
	}
	if err := app.Defaults().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr []string // "" parts: none
	}{
		{name: "dev on loopback v4", env: map[string]string{"PORTCULLIS_LISTEN": "127.0.0.1:9000"}},
		{name: "dev on loopback v6", env: map[string]string{"PORTCULLIS_LISTEN": "[::1]:8080", "PORTCULLIS_ISSUER": "http://[::1]:8080"}},
		{name: "dev on localhost", env: map[string]string{"PORTCULLIS_LISTEN": "localhost:8080", "PORTCULLIS_ISSUER": "http://127.0.0.1:8080"}},
		{name: "dev on every interface", env: map[string]string{"PORTCULLIS_LISTEN": ":8080"},
			wantErr: []string{"listen", `":8080"`, "dev mode", "loopback", "127.0.0.1:8080", "PORTCULLIS_DEV=false"}},
		{name: "dev on 0.0.0.0", env: map[string]string{"PORTCULLIS_LISTEN": "0.0.0.0:8080"}, wantErr: []string{"listen", "loopback"}},
		{name: "dev on [::]", env: map[string]string{"PORTCULLIS_LISTEN": "[::]:8080"}, wantErr: []string{"listen", "loopback"}},
		{name: "dev on a LAN address", env: map[string]string{"PORTCULLIS_LISTEN": "192.168.1.5:8080"}, wantErr: []string{"listen"}},
		{name: "dev with a public issuer", env: map[string]string{"PORTCULLIS_ISSUER": "https://id.example.com"},
			wantErr: []string{"issuer", "dev mode", "loopback", "https://id.example.com"}},
		{name: "dev with a look-alike issuer", env: map[string]string{"PORTCULLIS_ISSUER": "http://127.0.0.1.example.com:8080"},
			wantErr: []string{"issuer", "loopback"}},
		{name: "both reported", env: map[string]string{"PORTCULLIS_LISTEN": ":8080", "PORTCULLIS_ISSUER": "http://10.0.0.1:8080"},
			wantErr: []string{"listen", "issuer"}},
		{name: "production on every interface", env: map[string]string{"PORTCULLIS_DEV": "false", "PORTCULLIS_LISTEN": ":8080",
			"PORTCULLIS_ISSUER": "https://id.example.com", "PORTCULLIS_SECRET_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}},
		{name: "production http issuer elsewhere", env: map[string]string{"PORTCULLIS_DEV": "false", "PORTCULLIS_LISTEN": ":8080",
			"PORTCULLIS_ISSUER": "http://id.example.com", "PORTCULLIS_SECRET_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="},
			wantErr: []string{"issuer", "https"}},
		{name: "metrics listener", env: map[string]string{"PORTCULLIS_METRICS_LISTEN": "127.0.0.1:9100"}},
		{name: "metrics listener unparsable", env: map[string]string{"PORTCULLIS_METRICS_LISTEN": "9100"}, wantErr: []string{"metrics_listen"}},
		{name: "metrics on the main address", env: map[string]string{"PORTCULLIS_METRICS_LISTEN": "127.0.0.1:8080"},
			wantErr: []string{"metrics_listen", "differ"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := app.LoadConfig("", func(k string) string { return tc.env[k] })
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if v := tc.env["PORTCULLIS_METRICS_LISTEN"]; cfg.MetricsListen != v {
					t.Errorf("metrics_listen %q, want %q", cfg.MetricsListen, v)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.1.2.3": true, "::1": true,
		"127.example.com": false, "127.0.0.1.nip.io": false, "0.0.0.0": false, "": false, "::": false, "10.0.0.1": false,
		"example.com": false} {
		if got := app.IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

// The shipped configuration files load and validate: the default one in dev mode on loopback with no
// metrics listener, the PostgreSQL example outside dev mode with metrics on their own address.
func TestShippedConfigs(t *testing.T) {
	def, err := app.LoadConfig("../configs/portcullis.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatalf("configs/portcullis.yaml: %v", err)
	}
	if !def.Dev || def.Listen != app.DefaultListen || def.MetricsListen != "" {
		t.Errorf("configs/portcullis.yaml: dev %v, listen %q, metrics_listen %q", def.Dev, def.Listen, def.MetricsListen)
	}
	env := map[string]string{"PORTCULLIS_SECRET_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
	pg, err := app.LoadConfig("../configs/postgres.example.yaml", func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("configs/postgres.example.yaml: %v", err)
	}
	if pg.Dev || pg.MetricsListen == "" || pg.MetricsListen == pg.Listen {
		t.Errorf("configs/postgres.example.yaml: dev %v, listen %q, metrics_listen %q", pg.Dev, pg.Listen, pg.MetricsListen)
	}
}

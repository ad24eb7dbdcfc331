package app_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/portcullis/portcullis/app"
)

func TestWebAuthnRPIDConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(path, []byte("webauthn:\n  rp_id: file.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := app.LoadConfig(path, func(string) string { return "" })
	if err != nil || cfg.WebAuthn.RPID != "file.example" {
		t.Fatalf("from the file: %q %v", cfg.WebAuthn.RPID, err)
	}
	env := map[string]string{"PORTCULLIS_WEBAUTHN_RP_ID": "env.example"}
	cfg, err = app.LoadConfig(path, func(k string) string { return env[k] })
	if err != nil || cfg.WebAuthn.RPID != "env.example" {
		t.Fatalf("from the environment: %q %v", cfg.WebAuthn.RPID, err)
	}
}

package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/app"
	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// The dev bootstrap gives the demo client a generated secret (no well-known one), prints it once and
// keeps it, readable by the owner only, beside the SQLite file for the demo app; an app holding it
// signs in with the demo users.
func TestDevBootstrapGeneratesTheDemoClientSecret(t *testing.T) {
	dir := t.TempDir()
	env := apptest.New(t, storagetest.NewSQLite(t), func(c *app.Config) {
		c.Dev = true
		c.Database = filepath.Join(dir, "portcullis.db") // the store is given; this places the demo client file
	})
	var out bytes.Buffer
	if err := env.App.BootstrapDemo(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, app.DemoClientFileName)
	if got := app.DemoClientFile(env.App.Config); got != path {
		t.Fatalf("DemoClientFile = %q, want %q", got, path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no demo client file: %v\n%s", err, out.String())
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("demo client file mode %v, want 0600", fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var dc app.DemoClient
	if err := json.Unmarshal(b, &dc); err != nil {
		t.Fatalf("demo client file: %v\n%s", err, b)
	}
	if dc.ID != app.DemoClientID || len(dc.Secret) < 32 {
		t.Fatalf("demo client file holds id %q and a %d-character secret", dc.ID, len(dc.Secret))
	}
	printed := out.String()
	if strings.Contains(printed, "demo-app-secret") {
		t.Errorf("the well-known secret is still printed:\n%s", printed)
	}
	if !strings.Contains(printed, "secret "+dc.Secret) || !strings.Contains(printed, path) {
		t.Errorf("the output does not show the secret once and where it is kept:\n%s", printed)
	}
	cl, err := env.Store.ClientByID(context.Background(), app.DemoClientID)
	if err != nil {
		t.Fatal(err)
	}
	if secret.VerifyClientSecret(cl.SecretHash, "demo-app-secret") {
		t.Error("the demo client accepts the well-known secret demo-app-secret")
	}
	if !secret.VerifyClientSecret(cl.SecretHash, dc.Secret) {
		t.Fatal("the demo client does not accept the secret in the file")
	}

	// An app with the file's secret signs the printed member in.
	m := regexp.MustCompile(`member@demo\.test  password (\S+)`).FindStringSubmatch(printed)
	if m == nil {
		t.Fatalf("no member password in:\n%s", printed)
	}
	rp := env.RP(cl, dc.Secret)
	a, code := rp.SignIn(env.NewBrowser(), "member@demo.test", m[1])
	if _, err := rp.Exchange(code, a); err != nil {
		t.Fatalf("exchange with the generated secret: %v", err)
	}
	wrong := env.RP(cl, "demo-app-secret")
	a, code = wrong.SignIn(env.NewBrowser(), "member@demo.test", m[1])
	if _, err := wrong.Exchange(code, a); err == nil {
		t.Error("the token endpoint accepted the well-known secret demo-app-secret")
	}

	// A second start on the same database makes nothing and keeps the file.
	out.Reset()
	if err := env.App.BootstrapDemo(context.Background(), &out); err != nil || out.Len() != 0 {
		t.Fatalf("second bootstrap: %v\n%s", err, out.String())
	}
	if b2, _ := os.ReadFile(path); !bytes.Equal(b, b2) {
		t.Error("the second start changed the demo client file")
	}
}

package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
)

// asCLI makes the test binary act as the portcullis command, so that a shell script under test can
// call `portcullis` (a wrapper in PATH re-executes this binary with the variable set).
const asCLI = "PORTCULLIS_TEST_AS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(asCLI) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The compose bootstrap (deploy/compose-bootstrap.sh, run by docker-compose.yml with dev mode off)
// creates the demo tenant, admin, member and demo client with the CLI, prints generated passwords once,
// leaves the client's id and secret for the demo app in a file only its owner reads, and does nothing
// the second time.
func TestComposeBootstrapScript(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, dir := t.TempDir(), t.TempDir()
	wrapper := "#!/bin/sh\n" + asCLI + "=1 exec '" + self + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "portcullis"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"PORTCULLIS_DATABASE":   filepath.Join(dir, "p.db"),
		"PORTCULLIS_SECRET_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"PORTCULLIS_DEV":        "false",
		"PORTCULLIS_LOG_LEVEL":  "warn",
		"BOOTSTRAP_DIR":         dir,
		"DEMO_PUBLIC_URL":       "http://localhost:9090",
	}
	runScript := func() string {
		t.Helper()
		cmd := exec.Command(sh, "../../deploy/compose-bootstrap.sh")
		cmd.Env = []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + dir}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("compose-bootstrap.sh: %v\n%s", err, out)
		}
		return string(out)
	}
	out := runScript()
	pw := map[string]string{}
	for _, m := range regexp.MustCompile(`(admin|member)  (\S+@demo\.test)  password (\S+)`).FindAllStringSubmatch(out, -1) {
		pw[m[2]] = m[3]
	}
	if len(pw) != 2 || len(pw["admin@demo.test"]) < 20 || len(pw["member@demo.test"]) < 20 || pw["admin@demo.test"] == pw["member@demo.test"] {
		t.Fatalf("passwords not printed as expected: %v\n%s", pw, out)
	}
	path := filepath.Join(dir, "demo-client.json")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no demo client file: %v\n%s", err, out)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("demo client file mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	var cl struct {
		ID           string   `json:"id"`
		Secret       string   `json:"secret"`
		RedirectURIs []string `json:"redirect_uris"`
	}
	if err := json.Unmarshal(b, &cl); err != nil || cl.ID == "" || cl.Secret == "" {
		t.Fatalf("demo client file: %v\n%s", err, b)
	}
	if strings.Contains(out, cl.Secret) {
		t.Error("the client secret is in the log; it belongs in the file only")
	}

	e := &testEnv{vars: env}
	e.withStore(t, func(ctx context.Context, st *storage.Store) {
		ten, err := st.TenantByRef(ctx, "demo")
		if err != nil {
			t.Fatalf("tenant demo: %v", err)
		}
		for email, p := range pw {
			u, err := st.UserByEmail(ctx, ten.ID, email)
			if err != nil {
				t.Fatalf("%s: %v", email, err)
			}
			if ok, _ := secret.VerifyPassword(u.PasswordHash, p); !ok {
				t.Errorf("%s: the printed password does not verify", email)
			}
			if want := strings.TrimSuffix(email, "@demo.test"); u.Role != want {
				t.Errorf("%s: role %q, want %q", email, u.Role, want)
			}
		}
		c, err := st.ClientByID(ctx, cl.ID)
		if err != nil || c.TenantID != ten.ID || !secret.VerifyClientSecret(c.SecretHash, cl.Secret) ||
			len(c.RedirectURIs) != 1 || c.RedirectURIs[0] != "http://localhost:9090/callback" {
			t.Errorf("demo client: %v %+v", err, c)
		}
	})

	// The second run (every `docker compose up`) changes nothing and prints no password.
	again := runScript()
	if strings.Contains(again, "password") {
		t.Errorf("the second run printed passwords:\n%s", again)
	}
	if b2, _ := os.ReadFile(path); string(b2) != string(b) {
		t.Error("the second run replaced the demo client file")
	}
	e.withStore(t, func(ctx context.Context, st *storage.Store) {
		if cls, err := st.ListClients(ctx, ""); err != nil || len(cls) != 1 {
			t.Errorf("after two runs: %d clients (%v), want 1", len(cls), err)
		}
	})
}

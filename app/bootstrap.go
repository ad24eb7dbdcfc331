package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/portcullis/portcullis/clientreg"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/tenantadmin"
)

// DemoClientID is the id of the dev bootstrap's demo client. Its secret is generated at the bootstrap,
// printed once and kept in DemoClientFileName beside the SQLite database, where the demo app reads it.
const DemoClientID = "demo-app"

// DemoClientFileName is the file, beside the SQLite database, in which the dev bootstrap keeps the demo
// client's id and secret for `go run ./cmd/demo-app`. It has the shape of
// `portcullis client create --output json` (at least "id" and "secret"), so a client made with the CLI
// can be handed to the demo app the same way.
const DemoClientFileName = "portcullis.demo-client.json"

// DemoClient is what the demo client file holds.
type DemoClient struct {
	ID           string   `json:"id"`
	Secret       string   `json:"secret"`
	Issuer       string   `json:"issuer,omitempty"`
	RedirectURIs []string `json:"redirect_uris,omitempty"`
}

// DemoClientFile is where the dev bootstrap keeps the demo client for cfg: beside the SQLite file, or
// "" on PostgreSQL (then the secret is only printed).
func DemoClientFile(cfg Config) string {
	dir, ok := sqliteDir(cfg)
	if !ok {
		return ""
	}
	return filepath.Join(dir, DemoClientFileName)
}

// sqliteDir is the folder of the configured SQLite file; ok is false on PostgreSQL.
func sqliteDir(cfg Config) (string, bool) {
	if strings.HasPrefix(cfg.Database, "postgres") {
		return "", false
	}
	return filepath.Dir(strings.TrimPrefix(strings.TrimPrefix(cfg.Database, "sqlite://"), "file:")), true
}

// BootstrapDemo fills an empty database, in dev mode, with a demo tenant, an admin, a member and a
// demo client with a generated secret, and prints how to sign in. It does nothing on a database that
// has any tenant.
func (a *App) BootstrapDemo(ctx context.Context, out io.Writer) error {
	if !a.Config.Dev {
		return nil
	}
	n, err := a.Store.CountTenants(ctx)
	if err != nil || n > 0 {
		return err
	}
	bootstrapActor := tenantadmin.Actor{ID: "bootstrap", Address: "bootstrap"} // who the audit trail names
	t, err := a.Admin.CreateTenant(ctx, bootstrapActor, "demo", "Demo Company")
	if err != nil {
		return fmt.Errorf("bootstrap demo: %w", err)
	}
	type demoUser struct{ email, name, role, password string }
	users := []demoUser{
		{"admin@demo.test", "Ada Admin", tenantadmin.RoleAdmin, secret.RandomToken(12)},
		{"member@demo.test", "Max Member", tenantadmin.RoleMember, secret.RandomToken(12)},
	}
	for _, u := range users {
		if _, err := a.Admin.CreateUser(ctx, bootstrapActor, tenantadmin.NewUser{TenantID: t.ID, Email: u.email, Name: u.name,
			Role: u.role, Password: u.password, EmailVerified: true}); err != nil {
			return fmt.Errorf("bootstrap demo: %w", err)
		}
	}
	_, clientSecret, err := a.Admin.CreateClient(ctx, bootstrapActor, storage.Client{ID: DemoClientID, TenantID: t.ID, Name: "Demo App",
		RedirectURIs: []string{a.Config.DemoRedirectURI}, PostLogoutURIs: []string{postLogoutOf(a.Config.DemoRedirectURI)},
		Grants: clientreg.DefaultGrants()})
	if err != nil {
		return fmt.Errorf("bootstrap demo: %w", err)
	}
	kept := "pass it to the demo app with --client-secret (or DEMO_CLIENT_SECRET)"
	if path := DemoClientFile(a.Config); path != "" {
		if err := writeDemoClient(path, DemoClient{ID: DemoClientID, Secret: clientSecret, Issuer: a.Config.Issuer,
			RedirectURIs: []string{a.Config.DemoRedirectURI}}); err != nil {
			return fmt.Errorf("bootstrap demo: %w", err)
		}
		kept = "kept in " + path + " for `go run ./cmd/demo-app`"
	}
	fmt.Fprintf(out, `
Portcullis dev mode: created the demo tenant %q (slug %s).
  issuer         %s
  admin          %s  password %s
  member         %s  password %s
  demo client    id %s  secret %s  redirect %s
These passwords and the client secret are shown once (the secret is %s). Turn MFA on with:
  portcullis tenant set-mfa --tenant demo --enabled=true

`, t.Name, t.Slug, a.Config.Issuer, users[0].email, users[0].password, users[1].email, users[1].password,
		DemoClientID, clientSecret, a.Config.DemoRedirectURI, kept)
	return nil
}

// writeDemoClient writes the demo client file, readable by its owner only, replacing an older one
// (left from a deleted database).
func writeDemoClient(path string, c DemoClient) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("keep the demo client: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("keep the demo client: %w", err)
	}
	return nil
}

// postLogoutOf derives the demo app's post-logout URI (its root) from its callback URI.
func postLogoutOf(redirect string) string {
	for i := len("https://"); i < len(redirect); i++ {
		if redirect[i] == '/' {
			return redirect[:i] + "/"
		}
	}
	return redirect + "/"
}

package app

import (
	"context"
	"fmt"
	"io"

	"github.com/portcullis/portcullis/op"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
)

// Demo client credentials of the dev bootstrap (dev mode only; the demo app uses them by default).
const (
	DemoClientID     = "demo-app"
	DemoClientSecret = "demo-app-secret"
)

// BootstrapDemo fills an empty database, in dev mode, with a demo tenant, an admin, a member and a
// demo client, and prints how to sign in. It does nothing on a database that has any tenant.
func (a *App) BootstrapDemo(ctx context.Context, out io.Writer) error {
	if !a.Config.Dev {
		return nil
	}
	n, err := a.Store.CountTenants(ctx)
	if err != nil || n > 0 {
		return err
	}
	t, err := a.Store.CreateTenant(ctx, storage.Tenant{Slug: "demo", Name: "Demo Company", CreatedAt: a.Now()})
	if err != nil {
		return fmt.Errorf("bootstrap demo: %w", err)
	}
	type demoUser struct{ email, name, role, password string }
	users := []demoUser{
		{"admin@demo.test", "Ada Admin", storage.RoleAdmin, secret.RandomToken(12)},
		{"member@demo.test", "Max Member", storage.RoleMember, secret.RandomToken(12)},
	}
	for _, u := range users {
		hash, err := secret.HashPassword(u.password)
		if err != nil {
			return err
		}
		if _, err := a.Store.CreateUser(ctx, storage.User{TenantID: t.ID, Email: u.email, Name: u.name, Role: u.role,
			PasswordHash: hash, EmailVerified: true, CreatedAt: a.Now()}); err != nil {
			return fmt.Errorf("bootstrap demo: %w", err)
		}
	}
	if _, err := a.Store.CreateClient(ctx, storage.Client{ID: DemoClientID, TenantID: t.ID, Name: "Demo App",
		SecretHash:   secret.HashClientSecret(DemoClientSecret),
		RedirectURIs: []string{a.Config.DemoRedirectURI}, PostLogoutURIs: []string{postLogoutOf(a.Config.DemoRedirectURI)},
		Grants: []string{op.GrantAuthorizationCode, op.GrantRefreshToken}, CreatedAt: a.Now()}); err != nil {
		return fmt.Errorf("bootstrap demo: %w", err)
	}
	fmt.Fprintf(out, `
Portcullis dev mode: created the demo tenant %q (slug %s).
  issuer         %s
  admin          %s  password %s
  member         %s  password %s
  demo client    id %s  secret %s  redirect %s
These passwords are shown once. Turn MFA on with:
  portcullis tenant set-mfa --tenant demo --enabled=true

`, t.Name, t.Slug, a.Config.Issuer, users[0].email, users[0].password, users[1].email, users[1].password,
		DemoClientID, DemoClientSecret, a.Config.DemoRedirectURI)
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

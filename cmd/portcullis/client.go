package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/app"
)

func (c *cli) clientCmd() *cobra.Command {
	cmd := group("client", "Manage OIDC clients (relying parties)")
	cmd.AddCommand(c.clientCreateCmd(), c.clientListCmd())
	return cmd
}

// clientJSON is a client as the CLI prints it. Secret is set only by create, once; the hash never is.
type clientJSON struct {
	ID             string    `json:"id"`
	Secret         string    `json:"secret,omitempty"`
	TenantID       string    `json:"tenant_id"`
	Name           string    `json:"name"`
	Public         bool      `json:"public"`
	RedirectURIs   []string  `json:"redirect_uris"`
	PostLogoutURIs []string  `json:"post_logout_uris"`
	Grants         []string  `json:"grants"`
	Scopes         []string  `json:"scopes"`
	Admin          bool      `json:"admin"`
	IDTokenAlg     string    `json:"id_token_signed_response_alg,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
}

func toClientJSON(cl app.Client) clientJSON {
	nonNil := func(l []string) []string {
		if l == nil {
			return []string{}
		}
		return l
	}
	return clientJSON{ID: cl.ID, TenantID: cl.TenantID, Name: cl.Name, Public: cl.Public, RedirectURIs: nonNil(cl.RedirectURIs),
		PostLogoutURIs: nonNil(cl.PostLogoutURIs), Grants: nonNil(cl.Grants), Scopes: nonNil(cl.Scopes), Admin: cl.Admin,
		IDTokenAlg: cl.IDTokenAlg, CreatedAt: cl.CreatedAt.UTC()}
}

// validateRedirectURI applies the provider's rule (https, or http on a loopback host; no fragment),
// naming the flag in the error.
func validateRedirectURI(flag, raw string) error {
	if err := app.ValidateRedirectURI(raw); err != nil {
		return fmt.Errorf("%s %q: %w", flag, raw, err)
	}
	return nil
}

// clientSpec holds the flags of `client create`.
type clientSpec struct {
	tenant, name                         string
	redirectURIs, postLogoutURIs, grants []string
	scopes                               []string
	public, admin                        bool
	idTokenAlg                           string
}

// validate checks the flags and fills in the default grants.
func (s *clientSpec) validate() error {
	s.name = strings.TrimSpace(s.name)
	if s.name == "" {
		return errors.New("--name must not be empty")
	}
	if len(s.grants) == 0 {
		s.grants = []string{app.GrantAuthorizationCode, app.GrantRefreshToken}
	}
	var grants []string
	for _, g := range s.grants {
		switch g {
		case app.GrantAuthorizationCode, app.GrantRefreshToken, app.GrantClientCredentials:
		default:
			return fmt.Errorf("--grant must be %s, %s or %s, got %q", app.GrantAuthorizationCode, app.GrantRefreshToken,
				app.GrantClientCredentials, g)
		}
		if !slices.Contains(grants, g) {
			grants = append(grants, g)
		}
	}
	s.grants = grants
	code := slices.Contains(grants, app.GrantAuthorizationCode)
	credentials := slices.Contains(grants, app.GrantClientCredentials)
	if slices.Contains(grants, app.GrantRefreshToken) && !code {
		return fmt.Errorf("the %s grant needs the %s grant", app.GrantRefreshToken, app.GrantAuthorizationCode)
	}
	if code && len(s.redirectURIs) == 0 {
		return fmt.Errorf("the %s grant needs at least one --redirect-uri", app.GrantAuthorizationCode)
	}
	for _, u := range s.redirectURIs {
		if err := validateRedirectURI("--redirect-uri", u); err != nil {
			return err
		}
	}
	for _, u := range s.postLogoutURIs {
		if err := validateRedirectURI("--post-logout-uri", u); err != nil {
			return err
		}
	}
	for _, sc := range s.scopes {
		if err := app.ValidateScope(sc); err != nil {
			return fmt.Errorf("--scope %q: %w", sc, err)
		}
	}
	if s.public && credentials {
		return fmt.Errorf("a public client cannot use the %s grant: it has no secret to authenticate with", app.GrantClientCredentials)
	}
	if s.public && s.admin {
		return errors.New("a public client cannot be an --admin client: it has no secret to authenticate with")
	}
	// An admin client calls the admin API for itself (client_credentials) or for the tenant's admins
	// who sign in through it (authorization_code, the default grants).

	return nil
}

func (c *cli) clientCreateCmd() *cobra.Command {
	var s clientSpec
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Register a client; a confidential client's secret is printed once",
		Example: `  portcullis client create --tenant acme --name "Acme CRM" --redirect-uri https://crm.acme.example/callback
  portcullis client create --tenant acme --name CLI --public --redirect-uri http://127.0.0.1/callback
  portcullis client create --tenant acme --name provisioner --grant client_credentials --admin
  portcullis client create --tenant acme --name console --redirect-uri https://console.acme.example/cb --admin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := s.validate(); err != nil {
				return err
			}
			ctx := cmd.Context()
			return c.withAdmin(ctx, func(_ app.Config, adm *app.Admin) error {
				t, err := tenantByRef(ctx, adm, s.tenant)
				if err != nil {
					return err
				}
				cl, plain, err := adm.CreateClient(ctx, actor(), app.Client{TenantID: t.ID, Name: s.name, Public: s.public,
					RedirectURIs: s.redirectURIs, PostLogoutURIs: s.postLogoutURIs, Grants: s.grants, Scopes: s.scopes,
					Admin: s.admin, IDTokenAlg: s.idTokenAlg})
				if err != nil {
					return fmt.Errorf("create client %q: %w", s.name, err)
				}
				out := toClientJSON(cl)
				out.Secret = plain
				return c.emit(out, func(w io.Writer) error {
					kind := "confidential"
					if cl.Public {
						kind = "public"
					}
					fmt.Fprintf(w, "created %s client %q in tenant %s\n  id      %s\n", kind, cl.Name, t.Slug, cl.ID)
					if plain != "" {
						fmt.Fprintf(w, "  secret  %s\nThe secret is shown only now: store it safely.\n", plain)
					}
					return nil
				})
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&s.tenant, "tenant", "", "tenant slug or id (required)")
	f.StringVar(&s.name, "name", "", "display name, shown on the login page (required)")
	f.StringArrayVar(&s.redirectURIs, "redirect-uri", nil, "allowed redirect URI; repeat for more (required for authorization_code)")
	f.StringArrayVar(&s.postLogoutURIs, "post-logout-uri", nil, "allowed post-logout redirect URI; repeat for more")
	f.StringArrayVar(&s.grants, "grant", nil, "authorization_code, refresh_token or client_credentials; repeat for more (default: authorization_code and refresh_token)")
	f.StringArrayVar(&s.scopes, "scope", nil, "an extra scope the client may ask for; repeat for more")
	f.BoolVar(&s.public, "public", false, "a public client (native or single-page app): no secret, PKCE only")
	f.StringVar(&s.idTokenAlg, "id-token-alg", "", "RS256 or ES256: how its ID and access tokens are signed (default: the server's signing_algorithm)")
	f.BoolVar(&s.admin, "admin", false, "may call the tenant's admin API: for itself (client_credentials) or for the tenant's admins who sign in through it; other clients never get the admin scope")
	_ = cmd.MarkFlagRequired("tenant")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func (c *cli) clientListCmd() *cobra.Command {
	var ref string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List clients, of one tenant or of all (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return c.withAdmin(ctx, func(_ app.Config, adm *app.Admin) error {
				tenantID := ""
				if cmd.Flags().Changed("tenant") {
					t, err := tenantByRef(ctx, adm, ref)
					if err != nil {
						return err
					}
					tenantID = t.ID
				}
				cls, err := adm.Clients(ctx, tenantID)
				if err != nil {
					return fmt.Errorf("list clients: %w", err)
				}
				ts, err := adm.Tenants(ctx)
				if err != nil {
					return fmt.Errorf("list clients: %w", err)
				}
				slugs := make(map[string]string, len(ts))
				for _, t := range ts {
					slugs[t.ID] = t.Slug
				}
				out := make([]clientJSON, len(cls))
				rows := make([][]string, len(cls))
				for i, cl := range cls {
					out[i] = toClientJSON(cl)
					kind := "confidential"
					if cl.Public {
						kind = "public"
					}
					if cl.Admin {
						kind += ",admin"
					}
					rows[i] = []string{cl.ID, dash(slugs[cl.TenantID]), cl.Name, kind, dash(strings.Join(cl.Grants, ",")),
						dash(strings.Join(cl.RedirectURIs, " "))}
				}
				return c.emit(out, func(w io.Writer) error {
					return table(w, []string{"ID", "TENANT", "NAME", "TYPE", "GRANTS", "REDIRECT URIS"}, rows)
				})
			})
		},
	}
	cmd.Flags().StringVar(&ref, "tenant", "", "only this tenant's clients (slug or id)")
	return cmd
}

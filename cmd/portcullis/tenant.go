package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/app"
)

func (c *cli) tenantCmd() *cobra.Command {
	cmd := group("tenant", "Manage tenants (organisations) and their MFA policy")
	cmd.AddCommand(c.tenantCreateCmd(), c.tenantListCmd(), c.tenantSetMFACmd())
	return cmd
}

// tenantJSON is a tenant as the CLI prints it.
type tenantJSON struct {
	ID           string     `json:"id"`
	Slug         string     `json:"slug"`
	Name         string     `json:"name"`
	MFAEnabled   bool       `json:"mfa_enabled"`
	MFAUpdatedAt *time.Time `json:"mfa_updated_at,omitempty"`
	MFAUpdatedBy string     `json:"mfa_updated_by,omitempty"`
	MFAMethods   []string   `json:"mfa_methods"`
	CreatedAt    time.Time  `json:"created_at"`
}

func toTenantJSON(t app.Tenant) tenantJSON {
	return tenantJSON{ID: t.ID, Slug: t.Slug, Name: t.Name, MFAEnabled: t.MFAEnabled, MFAUpdatedAt: utcPtr(t.MFAUpdatedAt),
		MFAUpdatedBy: t.MFAUpdatedBy, MFAMethods: t.MFAMethods, CreatedAt: t.CreatedAt.UTC()}
}

const maxSlugLen = 63

// slugify derives a slug from a name: lower case, runs of anything but [a-z0-9] become one dash,
// no dash at either end, at most 63 characters.
func slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	s := b.String()
	if len(s) > maxSlugLen {
		s = strings.TrimRight(s[:maxSlugLen], "-")
	}
	return s
}

// validateSlug accepts 1-63 characters of [a-z0-9-] that neither start nor end with a dash.
func validateSlug(s string) error {
	if s == "" || len(s) > maxSlugLen {
		return fmt.Errorf("slug %q must be 1 to %d characters long", s, maxSlugLen)
	}
	for _, r := range s {
		if !((r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-') {
			return fmt.Errorf("slug %q may contain only lower-case letters a-z, digits and dashes", s)
		}
	}
	if strings.HasPrefix(s, "-") || strings.HasSuffix(s, "-") {
		return fmt.Errorf("slug %q must not start or end with a dash", s)
	}
	return nil
}

func (c *cli) tenantCreateCmd() *cobra.Command {
	var name, slug string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a tenant",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			name = strings.TrimSpace(name)
			if name == "" {
				return errors.New("--name must not be empty")
			}
			if !cmd.Flags().Changed("slug") {
				slug = slugify(name)
				if slug == "" {
					return fmt.Errorf("cannot derive a slug from the name %q: pass --slug", name)
				}
			}
			if err := validateSlug(slug); err != nil {
				return err
			}
			ctx := cmd.Context()
			return c.withAdmin(ctx, func(_ app.Config, adm *app.Admin) error {
				t, err := adm.CreateTenant(ctx, actor(), slug, name)
				if errors.Is(err, app.ErrAlreadyExists) {
					return fmt.Errorf("a tenant with slug %q %w", slug, app.ErrAlreadyExists)
				}
				if err != nil {
					return fmt.Errorf("create tenant %q: %w", slug, err)
				}
				return c.emit(toTenantJSON(t), func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "created tenant %s (id %s)\n", t.Slug, t.ID)
					return err
				})
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "display name of the tenant (required)")
	cmd.Flags().StringVar(&slug, "slug", "", "short name used in URLs and --tenant: [a-z0-9-], 1-63 characters (default: derived from --name)")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func (c *cli) tenantListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List tenants",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return c.withAdmin(ctx, func(_ app.Config, adm *app.Admin) error {
				ts, err := adm.Tenants(ctx)
				if err != nil {
					return fmt.Errorf("list tenants: %w", err)
				}
				out := make([]tenantJSON, len(ts))
				rows := make([][]string, len(ts))
				for i, t := range ts {
					out[i] = toTenantJSON(t)
					rows[i] = []string{t.ID, t.Slug, t.Name, onOff(t.MFAEnabled), shortTime(t.CreatedAt)}
				}
				return c.emit(out, func(w io.Writer) error {
					return table(w, []string{"ID", "SLUG", "NAME", "MFA", "CREATED"}, rows)
				})
			})
		},
	}
}

// setMFAResult is what `tenant set-mfa --output json` prints: the tenant after the change.
type setMFAResult struct {
	tenantJSON
	PreviousMFAEnabled bool `json:"previous_mfa_enabled"`
}

func (c *cli) tenantSetMFACmd() *cobra.Command {
	var ref string
	var enabled bool
	var methods []string
	cmd := &cobra.Command{
		Use:   "set-mfa",
		Short: "Turn the tenant-wide TOTP requirement on or off",
		Long: `Turn the tenant-wide TOTP requirement on or off. When on, every sign-in to the tenant needs a
second factor; users without one enrol at their next sign-in. --methods chooses the second factors that
count: totp (an authenticator app), webauthn (passkeys and security keys), or both (the default);
webauthn alone is phishing-resistant only. The change is audited.`,
		Example: "  portcullis tenant set-mfa --tenant acme --enabled=true\n  portcullis tenant set-mfa --tenant acme --enabled=true --methods webauthn",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return c.withAdmin(ctx, func(_ app.Config, adm *app.Admin) error {
				t, err := tenantByRef(ctx, adm, ref)
				if err != nil {
					return err
				}
				var allowed []string // unchanged without --methods
				if cmd.Flags().Changed("methods") {
					allowed = append([]string{}, methods...)
				}
				before, after, err := adm.SetMFAPolicy(ctx, actor(), t.ID, enabled, allowed)
				if err != nil {
					return fmt.Errorf("set the MFA policy of tenant %q: %w", t.Slug, err)
				}
				res := setMFAResult{tenantJSON: toTenantJSON(after), PreviousMFAEnabled: before.MFAEnabled}
				return c.emit(res, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "MFA for tenant %s is now %s (was %s)\n", after.Slug, onOff(after.MFAEnabled), onOff(before.MFAEnabled))
					return err
				})
			})
		},
	}
	cmd.Flags().StringVar(&ref, "tenant", "", "tenant slug or id (required)")
	cmd.Flags().BoolVar(&enabled, "enabled", false, "require a second factor in the tenant: --enabled=true or --enabled=false (required)")
	_ = cmd.MarkFlagRequired("tenant")
	cmd.Flags().StringSliceVar(&methods, "methods", nil, "the second factors allowed: totp,webauthn (default both); webauthn alone is phishing-resistant only")
	_ = cmd.MarkFlagRequired("enabled")
	return cmd
}

func onOff(b bool) string {
	if b {
		return "enabled"
	}
	return "disabled"
}

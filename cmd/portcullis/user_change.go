package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/app"
)

// userSelector is the --tenant plus --email or --user pair that names one user.
type userSelector struct{ tenant, email, id string }

func (s *userSelector) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.tenant, "tenant", "", "tenant slug or id (required)")
	cmd.Flags().StringVar(&s.email, "email", "", "the user's email")
	cmd.Flags().StringVar(&s.id, "user", "", "the user's id (instead of --email)")
	_ = cmd.MarkFlagRequired("tenant")
	cmd.MarkFlagsOneRequired("email", "user")
	cmd.MarkFlagsMutuallyExclusive("email", "user")
}

// find returns the tenant and the user it names; a user of another tenant is not found.
func (s *userSelector) find(ctx context.Context, adm *app.Admin) (app.Tenant, app.User, error) {
	t, err := tenantByRef(ctx, adm, s.tenant)
	if err != nil {
		return app.Tenant{}, app.User{}, err
	}
	var u app.User
	what := fmt.Sprintf("user %q", s.email)
	if s.id != "" {
		what = fmt.Sprintf("user with id %q", s.id)
		u, err = adm.User(ctx, t.ID, s.id)
	} else {
		u, err = adm.UserByEmail(ctx, t.ID, s.email)
	}
	if errors.Is(err, app.ErrNotFound) {
		return app.Tenant{}, app.User{}, fmt.Errorf("%s not found in tenant %q: %w", what, t.Slug, app.ErrNotFound)
	}
	if err != nil {
		return app.Tenant{}, app.User{}, fmt.Errorf("find %s: %w", what, err)
	}
	return t, u, nil
}

// withUser runs fn with the admin service and the tenant and user that sel names (see find).
func (c *cli) withUser(ctx context.Context, sel *userSelector, fn func(adm *app.Admin, t app.Tenant, u app.User) error) error {
	return c.withAdmin(ctx, func(_ app.Config, adm *app.Admin) error {
		t, u, err := sel.find(ctx, adm)
		if err != nil {
			return err
		}
		return fn(adm, t, u)
	})
}

// resetMFAResult is what `user reset-mfa --output json` prints.
type resetMFAResult struct {
	ID          string `json:"id"`
	TenantID    string `json:"tenant_id"`
	Email       string `json:"email"`
	PreviousMFA string `json:"previous_mfa"` // none, pending or active
	MFA         string `json:"mfa"`          // always none
	// The one-time code the user needs to enrol a new authenticator (shown once).
	EnrolmentCode          string    `json:"enrolment_code"`
	EnrolmentCodeExpiresAt time.Time `json:"enrolment_code_expires_at"`
}

func (c *cli) userResetMFACmd() *cobra.Command {
	var sel userSelector
	cmd := &cobra.Command{
		Use:   "reset-mfa",
		Short: "Remove a user's authenticator and recovery codes, end their sessions and revoke their tokens",
		Long: `Remove a user's TOTP authenticator and recovery codes, end their sessions and revoke their tokens,
for a user who lost their device. They enrol again at their next sign-in that needs MFA. Audited.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return c.withUser(ctx, &sel, func(adm *app.Admin, t app.Tenant, u app.User) error {
				r, err := adm.ResetMFA(ctx, actor(), u)
				if err != nil {
					return fmt.Errorf("reset MFA of %q: %w", u.Email, err)
				}
				prev, code := r.PreviousMFA, r.EnrolmentCode
				res := resetMFAResult{ID: u.ID, TenantID: t.ID, Email: u.Email, PreviousMFA: prev, MFA: app.MFANone,
					EnrolmentCode: code, EnrolmentCodeExpiresAt: r.ExpiresAt.UTC()}
				return c.emit(res, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "reset MFA of %s (id %s; was %s): authenticator and recovery codes removed, sessions ended, tokens revoked\n"+
						"enrolment code (give it to the user; needed to set up a new authenticator; shown once): %s\nvalid until %s\n",
						u.Email, u.ID, prev, code, r.ExpiresAt.UTC().Format(time.RFC3339))
					return err
				})
			})
		},
	}
	sel.flags(cmd)
	return cmd
}

func (c *cli) userSetRoleCmd() *cobra.Command {
	var sel userSelector
	var role string
	cmd := &cobra.Command{
		Use:   "set-role",
		Short: "Make a user an admin or a member of their tenant",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateRole(role); err != nil {
				return err
			}
			ctx := cmd.Context()
			return c.withUser(ctx, &sel, func(adm *app.Admin, t app.Tenant, u app.User) error {
				old := u.Role
				_, u, err := adm.UpdateUser(ctx, actor(), t.ID, u.ID, app.UserChange{Role: &role})
				if err != nil {
					return fmt.Errorf("set the role of %q: %w", sel.email+sel.id, err)
				}
				return c.emit(toUserJSON(u, mfaState(ctx, adm, u)), func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "%s is now %s (was %s)\n", u.Email, u.Role, old)
					return err
				})
			})
		},
	}
	sel.flags(cmd)
	cmd.Flags().StringVar(&role, "role", "", "admin or member (required)")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

// userSetDisabledCmd is `user disable` or `user enable`. Disabling also ends sessions and revokes tokens.
func (c *cli) userSetDisabledCmd(use string, disabled bool) *cobra.Command {
	var sel userSelector
	short := "Let a disabled user sign in again"
	if disabled {
		short = "Stop a user from signing in: ends their sessions and revokes their tokens"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return c.withUser(ctx, &sel, func(adm *app.Admin, t app.Tenant, u app.User) error {
				_, u, err := adm.UpdateUser(ctx, actor(), t.ID, u.ID, app.UserChange{Disabled: &disabled})
				if err != nil {
					return fmt.Errorf("%s user %q: %w", use, sel.email+sel.id, err)
				}
				return c.emit(toUserJSON(u, mfaState(ctx, adm, u)), func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "user %s is now %sd\n", u.Email, use)
					return err
				})
			})
		},
	}
	sel.flags(cmd)
	return cmd
}

// mfaState is the user's second-factor state for display; a lookup failure shows as "none".
func mfaState(ctx context.Context, adm *app.Admin, u app.User) string {
	m, _ := adm.Member(ctx, u)
	return m.MFA()
}

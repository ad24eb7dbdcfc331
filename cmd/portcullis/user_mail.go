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

// invitationResult is what `user invite --output json` prints (never the link: it is only in the mail).
type invitationResult struct {
	userJSON
	InvitationID string    `json:"invitation_id"`
	ExpiresAt    time.Time `json:"invitation_expires_at"`
}

func (c *cli) userInviteCmd() *cobra.Command {
	var ref, email, name, role string
	cmd := &cobra.Command{
		Use:   "invite",
		Short: "Invite a user by email: they get a link to choose their password",
		Long: `Create a user without a password and email them a link (valid links.invitation_ttl, 7 days by
default) to choose one; then, when the tenant's MFA policy is on, they enrol. The mail goes through the
outbox and is sent by the server (smtp.url). Audited.`,
		Example: "  portcullis user invite --tenant acme --email ada@example.com --role admin",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addr, err := validateEmail(email)
			if err != nil {
				return err
			}
			if err := validateRole(role); err != nil {
				return err
			}
			ctx := cmd.Context()
			return c.withAdmin(ctx, func(_ app.Config, adm *app.Admin) error {
				t, err := tenantByRef(ctx, adm, ref)
				if err != nil {
					return err
				}
				inv, err := adm.Invite(ctx, actor(), t, addr, strings.TrimSpace(name), role)
				if errors.Is(err, app.ErrAlreadyExists) {
					return fmt.Errorf("a user with email %q in tenant %q %w", addr, t.Slug, app.ErrAlreadyExists)
				}
				if err != nil {
					return fmt.Errorf("invite %q: %w", addr, err)
				}
				out := invitationResult{userJSON: toUserJSON(inv.User, app.MFANone), InvitationID: inv.Link.ID, ExpiresAt: inv.Link.ExpiresAt.UTC()}
				return c.emit(out, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "invited %s (id %s, %s) to tenant %s; the link expires %s\n", inv.User.Email, inv.User.ID,
						inv.User.Role, t.Slug, inv.Link.ExpiresAt.UTC().Format(time.RFC3339))
					return err
				})
			})
		},
	}
	cmd.Flags().StringVar(&ref, "tenant", "", "tenant slug or id (required)")
	cmd.Flags().StringVar(&email, "email", "", "email address (required)")
	cmd.Flags().StringVar(&name, "name", "", "display name")
	cmd.Flags().StringVar(&role, "role", app.RoleMember, "admin or member")
	for _, f := range []string{"tenant", "email"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

func (c *cli) userSendResetCmd() *cobra.Command {
	var sel userSelector
	cmd := &cobra.Command{
		Use:   "send-reset",
		Short: "Email a user a link to choose a new password",
		Long: `Email the user a password-reset link (valid links.reset_ttl, 1 hour by default; at most 5 reset
mails per account per hour). The mail goes through the outbox and is sent by the server. Audited.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return c.withUser(ctx, &sel, func(adm *app.Admin, t app.Tenant, u app.User) error {
				if err := adm.SendReset(ctx, actor(), t, u.ID); err != nil {
					return fmt.Errorf("send a reset to %q: %w", u.Email, err)
				}
				return c.emit(map[string]string{"id": u.ID, "email": u.Email, "status": "queued"}, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "queued a password-reset email to %s\n", u.Email)
					return err
				})
			})
		},
	}
	sel.flags(cmd)
	return cmd
}

func (c *cli) userSetPasswordCmd() *cobra.Command {
	var sel userSelector
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "set-password",
		Short: "Set a user's password (break-glass); it is read from standard input",
		Long: `Set a user's password, the operator's break-glass. Ends the user's sessions and revokes their
tokens; the second factor stays. The password must follow the password rules. Audited (user.password_set).`,
		Example: "  printf '%s\\n' \"$PASSWORD\" | portcullis user set-password --tenant acme --email ada@example.com --password-stdin",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !passwordStdin {
				return errors.New("--password-stdin is required: pipe the password on standard input")
			}
			pw, err := c.readPassword()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			return c.withUser(ctx, &sel, func(adm *app.Admin, t app.Tenant, u app.User) error {
				if err := adm.SetPassword(ctx, actor(), t.ID, u.ID, pw); err != nil {
					return fmt.Errorf("set the password of %q: %w", u.Email, err)
				}
				return c.emit(map[string]string{"id": u.ID, "email": u.Email, "status": "password set"}, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "set the password of %s; their sessions ended\n", u.Email)
					return err
				})
			})
		},
	}
	sel.flags(cmd)
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input (required)")
	_ = cmd.MarkFlagRequired("password-stdin")
	return cmd
}

func (c *cli) userDeleteCmd() *cobra.Command {
	var sel userSelector
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete a user, their personal data and everything they hold",
		Long: `Delete a user: their email, name, authenticator, recovery codes, sessions, links and unsent mail
go, and every token they hold is revoked. The tenant's last active admin cannot be deleted. Audited
(user.deleted, with the user's id and role only).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return c.withUser(ctx, &sel, func(adm *app.Admin, t app.Tenant, u app.User) error {
				if err := adm.DeleteUser(ctx, actor(), t.ID, u.ID); err != nil {
					return fmt.Errorf("delete %q: %w", u.Email, err)
				}
				return c.emit(map[string]string{"id": u.ID, "status": "deleted"}, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "deleted user %s (id %s) from tenant %s\n", u.Email, u.ID, t.Slug)
					return err
				})
			})
		},
	}
	sel.flags(cmd)
	return cmd
}

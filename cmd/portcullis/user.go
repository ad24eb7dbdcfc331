package main

import (
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/app"
)

// Password length bounds, in characters (the tenant-admin service's).
const (
	minPasswordLen = app.MinPasswordLen
	maxPasswordLen = app.MaxPasswordLen
)

func (c *cli) userCmd() *cobra.Command {
	cmd := group("user", "Manage the users of a tenant")
	cmd.AddCommand(c.userCreateCmd(), c.userListCmd(), c.userResetMFACmd(), c.userSetRoleCmd(),
		c.userSetDisabledCmd("disable", true), c.userSetDisabledCmd("enable", false),
		c.userInviteCmd(), c.userSendResetCmd(), c.userSetPasswordCmd(), c.userDeleteCmd())
	return cmd
}

// userJSON is a user as the CLI prints it (never the password hash).
type userJSON struct {
	ID            string    `json:"id"`
	TenantID      string    `json:"tenant_id"`
	Email         string    `json:"email"`
	Name          string    `json:"name"`
	Role          string    `json:"role"`
	Disabled      bool      `json:"disabled"`
	EmailVerified bool      `json:"email_verified"`
	MFA           string    `json:"mfa"` // none, pending or active
	CreatedAt     time.Time `json:"created_at"`
}

func toUserJSON(u app.User, mfaState string) userJSON {
	return userJSON{ID: u.ID, TenantID: u.TenantID, Email: u.Email, Name: u.Name, Role: u.Role, Disabled: u.Disabled,
		EmailVerified: u.EmailVerified, MFA: mfaState, CreatedAt: u.CreatedAt.UTC()}
}

// validateEmail accepts a bare address (no display name, no angle brackets) and returns it normalised.
func validateEmail(e string) (string, error) {
	e = strings.TrimSpace(e)
	if e == "" {
		return "", errors.New("--email must not be empty")
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Name != "" || a.Address != e {
		return "", fmt.Errorf("%q is not a valid email address (give a bare address like ada@example.com)", e)
	}
	return app.NormalizeEmail(a.Address), nil
}

func validateRole(r string) error {
	if r != app.RoleAdmin && r != app.RoleMember {
		return fmt.Errorf("--role must be %s or %s, got %q", app.RoleAdmin, app.RoleMember, r)
	}
	return nil
}

// readPassword reads the password line from stdin and checks its length.
func (c *cli) readPassword() (string, error) {
	pw, err := readLine(c.stdin)
	if err != nil {
		return "", err
	}
	if pw == "" {
		return "", errors.New("the password read from standard input is empty")
	}
	if !utf8.ValidString(pw) {
		return "", errors.New("the password must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(pw); n < minPasswordLen {
		return "", fmt.Errorf("the password is too short: it needs at least %d characters, got %d", minPasswordLen, n)
	} else if n > maxPasswordLen {
		return "", fmt.Errorf("the password is too long: at most %d characters", maxPasswordLen)
	}
	return pw, nil
}

func (c *cli) userCreateCmd() *cobra.Command {
	var ref, email, name, role string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:     "create",
		Short:   "Create a user; the password is read from standard input",
		Example: "  printf '%s\\n' \"$PASSWORD\" | portcullis user create --tenant acme --email ada@example.com --password-stdin --role admin",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addr, err := validateEmail(email)
			if err != nil {
				return err
			}
			if err := validateRole(role); err != nil {
				return err
			}
			if !passwordStdin {
				return errors.New("--password-stdin is required: pipe the password on standard input")
			}
			pw, err := c.readPassword()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			return c.withAdmin(ctx, func(_ app.Config, adm *app.Admin) error {
				t, err := tenantByRef(ctx, adm, ref)
				if err != nil {
					return err
				}
				u, err := adm.CreateUser(ctx, actor(), app.NewUser{TenantID: t.ID, Email: addr, Name: strings.TrimSpace(name),
					Role: role, Password: pw, EmailVerified: true})
				if errors.Is(err, app.ErrAlreadyExists) {
					return fmt.Errorf("a user with email %q in tenant %q %w", addr, t.Slug, app.ErrAlreadyExists)
				}
				if err != nil {
					return fmt.Errorf("create user %q: %w", addr, err)
				}
				return c.emit(toUserJSON(u, app.MFANone), func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "created user %s (id %s, %s) in tenant %s\n", u.Email, u.ID, u.Role, t.Slug)
					return err
				})
			})
		},
	}
	cmd.Flags().StringVar(&ref, "tenant", "", "tenant slug or id (required)")
	cmd.Flags().StringVar(&email, "email", "", "email address, used to sign in (required)")
	cmd.Flags().StringVar(&name, "name", "", "display name")
	cmd.Flags().StringVar(&role, "role", app.RoleMember, "admin or member")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input (required)")
	for _, f := range []string{"tenant", "email", "password-stdin"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

// listPage is how many users one query fetches.
const listPage = 500

func (c *cli) userListCmd() *cobra.Command {
	var ref string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List a tenant's users with their MFA state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return c.withAdmin(ctx, func(_ app.Config, adm *app.Admin) error {
				t, err := tenantByRef(ctx, adm, ref)
				if err != nil {
					return err
				}
				out := []userJSON{}
				for offset := 0; ; offset += listPage {
					ms, err := adm.Members(ctx, t.ID, offset, listPage)
					if err != nil {
						return fmt.Errorf("list users: %w", err)
					}
					for _, m := range ms {
						out = append(out, toUserJSON(m.User, m.MFA()))
					}
					if len(ms) < listPage {
						break
					}
				}
				return c.emit(out, func(w io.Writer) error {
					rows := make([][]string, len(out))
					for i, u := range out {
						rows[i] = []string{u.ID, u.Email, dash(u.Name), u.Role, yesNo(u.Disabled), u.MFA}
					}
					return table(w, []string{"ID", "EMAIL", "NAME", "ROLE", "DISABLED", "MFA"}, rows)
				})
			})
		},
	}
	cmd.Flags().StringVar(&ref, "tenant", "", "tenant slug or id (required)")
	_ = cmd.MarkFlagRequired("tenant")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

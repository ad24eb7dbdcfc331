package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/app"
	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
)

// Password length bounds, in characters: NIST SP 800-63B's minimum of 8, and a maximum that keeps
// hashing cheap while allowing any passphrase.
const (
	minPasswordLen = 8
	maxPasswordLen = 1024
)

func (c *cli) userCmd() *cobra.Command {
	cmd := group("user", "Manage the users of a tenant")
	cmd.AddCommand(c.userCreateCmd(), c.userListCmd(), c.userResetMFACmd(), c.userSetRoleCmd(),
		c.userSetDisabledCmd("disable", true), c.userSetDisabledCmd("enable", false))
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

func toUserJSON(u storage.User, mfaState string) userJSON {
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
	return storage.NormalizeEmail(a.Address), nil
}

func validateRole(r string) error {
	if r != storage.RoleAdmin && r != storage.RoleMember {
		return fmt.Errorf("--role must be %s or %s, got %q", storage.RoleAdmin, storage.RoleMember, r)
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
			return c.withStore(ctx, func(_ app.Config, st *storage.Store) error {
				t, err := tenantByRef(ctx, st, ref)
				if err != nil {
					return err
				}
				hash, err := secret.HashPassword(pw)
				if err != nil {
					return err
				}
				u, err := st.CreateUser(ctx, storage.User{TenantID: t.ID, Email: addr, Name: strings.TrimSpace(name), Role: role,
					PasswordHash: hash, EmailVerified: true, CreatedAt: time.Now()})
				if errors.Is(err, storage.ErrAlreadyExists) {
					return fmt.Errorf("a user with email %q in tenant %q %w", addr, t.Slug, storage.ErrAlreadyExists)
				}
				if err != nil {
					return fmt.Errorf("create user %q: %w", addr, err)
				}
				return c.emit(toUserJSON(u, mfa.StateNone), func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "created user %s (id %s, %s) in tenant %s\n", u.Email, u.ID, u.Role, t.Slug)
					return err
				})
			})
		},
	}
	cmd.Flags().StringVar(&ref, "tenant", "", "tenant slug or id (required)")
	cmd.Flags().StringVar(&email, "email", "", "email address, used to sign in (required)")
	cmd.Flags().StringVar(&name, "name", "", "display name")
	cmd.Flags().StringVar(&role, "role", storage.RoleMember, "admin or member")
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
			return c.withStore(ctx, func(_ app.Config, st *storage.Store) error {
				t, err := tenantByRef(ctx, st, ref)
				if err != nil {
					return err
				}
				out := []userJSON{}
				for offset := 0; ; offset += listPage {
					us, err := st.ListUsers(ctx, t.ID, offset, listPage)
					if err != nil {
						return fmt.Errorf("list users: %w", err)
					}
					ids := make([]string, len(us))
					for i, u := range us {
						ids[i] = u.ID
					}
					auths, err := st.AuthenticatorsByUsers(ctx, ids)
					if err != nil {
						return fmt.Errorf("list users: %w", err)
					}
					for _, u := range us {
						a, ok := auths[u.ID]
						var missing error
						if !ok {
							missing = storage.ErrNotFound
						}
						out = append(out, toUserJSON(u, mfa.State(a, missing)))
					}
					if len(us) < listPage {
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
func (s *userSelector) find(ctx context.Context, st *storage.Store) (storage.Tenant, storage.User, error) {
	t, err := tenantByRef(ctx, st, s.tenant)
	if err != nil {
		return storage.Tenant{}, storage.User{}, err
	}
	var u storage.User
	what := fmt.Sprintf("user %q", s.email)
	if s.id != "" {
		what = fmt.Sprintf("user with id %q", s.id)
		u, err = st.UserByID(ctx, s.id)
		if err == nil && u.TenantID != t.ID {
			err = storage.ErrNotFound
		}
	} else {
		u, err = st.UserByEmail(ctx, t.ID, s.email)
	}
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Tenant{}, storage.User{}, fmt.Errorf("%s not found in tenant %q: %w", what, t.Slug, storage.ErrNotFound)
	}
	if err != nil {
		return storage.Tenant{}, storage.User{}, fmt.Errorf("find %s: %w", what, err)
	}
	return t, u, nil
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
			return c.withStore(ctx, func(cfg app.Config, st *storage.Store) error {
				t, u, err := sel.find(ctx, st)
				if err != nil {
					return err
				}
				master, err := app.MasterKey(cfg)
				if err != nil {
					return err
				}
				kh, err := secret.NewKeyedHash(master, "enrolment-codes")
				if err != nil {
					return err
				}
				a, err := st.AuthenticatorByUser(ctx, u.ID)
				if err != nil && !errors.Is(err, storage.ErrNotFound) {
					return fmt.Errorf("reset MFA of %q: %w", u.Email, err)
				}
				prev := mfa.State(a, err)
				code, rec, err := (&mfa.Service{EnrolmentHash: kh}).NewEnrolmentCode(u, cliActor)
				if err != nil {
					return err
				}
				err = st.InTx(ctx, func(tx *storage.Store) error { // reset, revocation and audit event together
					if err := tx.ResetMFA(ctx, u.ID, &rec, storage.AuditEvent{TenantID: t.ID, ActorID: cliActor, TargetID: u.ID,
						Action: "mfa.reset", Address: cliAddress,
						Detail: map[string]any{"enrolment_code_expires_at": rec.ExpiresAt.UTC().Format(time.RFC3339)}}); err != nil {
						return fmt.Errorf("reset MFA of %q: %w", u.Email, err)
					}
					if err := tx.RevokeUserTokens(ctx, u.ID, time.Now()); err != nil {
						return fmt.Errorf("revoke the tokens of %q: %w", u.Email, err)
					}
					return nil
				})
				if err != nil {
					return err
				}
				res := resetMFAResult{ID: u.ID, TenantID: t.ID, Email: u.Email, PreviousMFA: prev, MFA: mfa.StateNone,
					EnrolmentCode: code, EnrolmentCodeExpiresAt: rec.ExpiresAt.UTC()}
				return c.emit(res, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "reset MFA of %s (id %s; was %s): authenticator and recovery codes removed, sessions ended, tokens revoked\n"+
						"enrolment code (give it to the user; needed to set up a new authenticator; shown once): %s\nvalid until %s\n",
						u.Email, u.ID, prev, code, rec.ExpiresAt.UTC().Format(time.RFC3339))
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
			return c.withStore(ctx, func(_ app.Config, st *storage.Store) error {
				t, u, err := sel.find(ctx, st)
				if err != nil {
					return err
				}
				old := u.Role
				err = st.InTx(ctx, func(tx *storage.Store) error { // the change and its audit event together
					var err error
					u, err = tx.UpdateUser(ctx, u.ID, func(nu *storage.User) error { nu.Role = role; return nil })
					if err != nil {
						return fmt.Errorf("set the role of %q: %w", sel.email+sel.id, err)
					}
					if err := tx.AddAudit(ctx, storage.AuditEvent{TenantID: t.ID, ActorID: cliActor, TargetID: u.ID, Action: "user.role_changed",
						Address: cliAddress, Detail: map[string]any{"old": old, "new": role}}); err != nil {
						return fmt.Errorf("audit the role change of %q: %w", u.Email, err)
					}
					return nil
				})
				if err != nil {
					return err
				}
				return c.emit(toUserJSON(u, c.mfaState(ctx, st, u.ID)), func(w io.Writer) error {
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
			return c.withStore(ctx, func(_ app.Config, st *storage.Store) error {
				t, u, err := sel.find(ctx, st)
				if err != nil {
					return err
				}
				action := "user.enabled"
				if disabled {
					action = "user.disabled"
				}
				err = st.InTx(ctx, func(tx *storage.Store) error { // the change, the revocation and the audit event together
					var err error
					u, err = tx.UpdateUser(ctx, u.ID, func(nu *storage.User) error { nu.Disabled = disabled; return nil })
					if err != nil {
						return fmt.Errorf("%s user %q: %w", use, sel.email+sel.id, err)
					}
					if disabled {
						if err := tx.RevokeUserTokens(ctx, u.ID, time.Now()); err != nil {
							return fmt.Errorf("revoke the tokens of %q: %w", u.Email, err)
						}
					}
					if err := tx.AddAudit(ctx, storage.AuditEvent{TenantID: t.ID, ActorID: cliActor, TargetID: u.ID, Action: action,
						Address: cliAddress}); err != nil {
						return fmt.Errorf("audit: %w", err)
					}
					return nil
				})
				if err != nil {
					return err
				}
				return c.emit(toUserJSON(u, c.mfaState(ctx, st, u.ID)), func(w io.Writer) error {
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
func (c *cli) mfaState(ctx context.Context, st *storage.Store, userID string) string {
	a, err := st.AuthenticatorByUser(ctx, userID)
	return mfa.State(a, err)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

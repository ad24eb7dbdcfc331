package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/app"
)

// migrateResult is what `migrate --output json` prints.
type migrateResult struct {
	Migrations int `json:"migrations"`
}

func (c *cli) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			cfg, err := c.config()
			if err != nil {
				return err
			}
			n, err := app.Migrate(cmd.Context(), cfg, c.cliLogger())
			if err != nil {
				return err
			}
			return c.emit(migrateResult{Migrations: n}, func(w io.Writer) error {
				if n == 0 {
					_, err := fmt.Fprintln(w, "database is up to date: no migrations to apply")
					return err
				}
				_, err := fmt.Fprintf(w, "applied %d migration(s)\n", n)
				return err
			})
		},
	}
}

func (c *cli) keysCmd() *cobra.Command {
	cmd := group("keys", "Manage token signing keys")
	cmd.AddCommand(c.keysRotateCmd())
	return cmd
}

// rotateResult is what `keys rotate --output json` prints.
type rotateResult struct {
	ID                     string     `json:"id"`
	Algorithm              string     `json:"algorithm"`
	CreatedAt              time.Time  `json:"created_at"`
	PreviousID             string     `json:"previous_id,omitempty"`
	PreviousPublishedUntil *time.Time `json:"previous_published_until,omitempty"`
}

func (c *cli) keysRotateCmd() *cobra.Command {
	var algorithm string
	var overlap time.Duration
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Make a new signing key; the previous one stays published for the overlap",
		Long: `Make a new token signing key. The server signs with it within seconds. The previous key stays
published in the JWKS for the overlap, so tokens it signed keep verifying until they expire.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return c.withAdmin(ctx, func(cfg app.Config, adm *app.Admin) error {
				if algorithm == "" {
					algorithm = cfg.SigningAlgorithm
				}
				if err := app.CheckSigningAlgorithm(algorithm); err != nil {
					return fmt.Errorf("--algorithm: %w", err)
				}
				longest := max(cfg.IDTokenTTL.Duration, cfg.AccessTokenTTL.Duration)
				if !cmd.Flags().Changed("overlap") {
					overlap = longest + 10*time.Minute
				}
				if overlap < 0 {
					return fmt.Errorf("--overlap must not be negative, got %s", overlap)
				}
				if overlap < longest {
					fmt.Fprintf(c.stderr, "warning: --overlap %s is shorter than the longest token lifetime (%s): tokens signed by the previous key may stop verifying before they expire\n", overlap, longest)
				}
				kr, err := adm.RotateKey(ctx, algorithm, overlap)
				if err != nil {
					return err
				}
				res := rotateResult{ID: kr.ID, Algorithm: kr.Algorithm, CreatedAt: kr.CreatedAt, PreviousID: kr.PreviousID,
					PreviousPublishedUntil: kr.PreviousPublishedUntil}
				return c.emit(res, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "new signing key %s (%s)\n", res.ID, res.Algorithm)
					if err == nil && res.PreviousID != "" {
						_, err = fmt.Fprintf(w, "previous key %s stays published until %s\n", res.PreviousID, res.PreviousPublishedUntil.Format(time.RFC3339))
					}
					return err
				})
			})
		},
	}
	cmd.Flags().StringVar(&algorithm, "algorithm", "", "RS256 or ES256 (default: the configured signing_algorithm)")
	cmd.Flags().DurationVar(&overlap, "overlap", 0, "how long the previous key stays published (default: the longest of id_token_ttl and access_token_ttl, plus 10m)")
	return cmd
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/app"
)

// addAdminCommands adds migrate, keys, tenant, user and client.
func (c *cli) addAdminCommands(root *cobra.Command) {
	root.AddCommand(c.migrateCmd(), c.keysCmd(), c.tenantCmd(), c.userCmd(), c.clientCmd(), c.healthcheckCmd())
}

// Who the CLI is in audit events: it acts for the operator at the console, not for a user.
const (
	cliActor   = "cli"
	cliAddress = "cli"
)

// actor is the CLI as the tenant-admin service audits it.
func actor() app.AdminActor { return app.AdminActor{ID: cliActor, Address: cliAddress} }

// group makes a command that only holds subcommands: alone it prints its help, and an unknown
// subcommand is an error (cobra otherwise prints the help and succeeds).
func group(use, short string) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() }}
}

// checkOutput refuses an --output other than text or json before anything is done.
func (c *cli) checkOutput() error {
	switch c.output {
	case "text", "json":
		return nil
	default:
		return fmt.Errorf("--output must be text or json, got %q", c.output)
	}
}

// cliLogger logs warnings and errors only, as text on stderr: stdout is for results.
func (c *cli) cliLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// withAdmin loads the configuration, opens (and migrates) the database, runs fn with the tenant-admin
// service on it and closes the database.
func (c *cli) withAdmin(ctx context.Context, fn func(cfg app.Config, adm *app.Admin) error) error {
	if err := c.checkOutput(); err != nil {
		return err
	}
	cfg, err := c.config()
	if err != nil {
		return err
	}
	adm, err := app.OpenAdmin(ctx, cfg, c.cliLogger(), nil)
	if err != nil {
		return err
	}
	err = fn(cfg, adm)
	if cerr := adm.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close database: %w", cerr)
	}
	return err
}

// emit prints v as indented JSON with --output json, or calls text otherwise.
func (c *cli) emit(v any, text func(w io.Writer) error) error {
	if c.output == "json" {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	return text(c.stdout)
}

// table writes an aligned table: a header row, then one row per record.
func table(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// tenantByRef finds a tenant by slug or id.
func tenantByRef(ctx context.Context, adm *app.Admin, ref string) (app.Tenant, error) {
	if strings.TrimSpace(ref) == "" {
		return app.Tenant{}, errors.New("--tenant must name a tenant (its slug or id)")
	}
	t, err := adm.Tenant(ctx, ref)
	if errors.Is(err, app.ErrNotFound) {
		return app.Tenant{}, fmt.Errorf("tenant %q %w", ref, app.ErrNotFound)
	}
	if err != nil {
		return app.Tenant{}, fmt.Errorf("find tenant %q: %w", ref, err)
	}
	return t, nil
}

// maxPasswordLine bounds what --password-stdin reads: the longest password plus a CR LF.
const maxPasswordLine = app.MaxPasswordLen*4 + 2

// readLine reads exactly one line from r, one byte at a time so that nothing after it is consumed,
// and drops the trailing "\n" or "\r\n" (as `docker login --password-stdin` does).
func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				break
			}
			if b.Len() >= maxPasswordLine {
				return "", errors.New("the line on standard input is too long")
			}
			b.WriteByte(buf[0])
			continue
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("read standard input: %w", err)
		}
	}
	return strings.TrimSuffix(b.String(), "\r"), nil
}

// utcPtr returns nil for the zero time, so that JSON omits it.
func utcPtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// shortTime formats a time for tables.
func shortTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

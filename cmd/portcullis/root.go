package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/app"
)

// cli carries what every command needs: its inputs, and the flags shared by all.
type cli struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer

	configPath string
	output     string // text or json
}

// run builds the command tree and executes it with args.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := &cli{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "portcullis",
		Short:         "Portcullis: an OpenID Connect provider with a tenant-wide MFA policy",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&c.configPath, "config", getenv("PORTCULLIS_CONFIG"), "YAML configuration file (env PORTCULLIS_CONFIG)")
	root.PersistentFlags().StringVarP(&c.output, "output", "o", "text", "output format: text or json")
	serve := c.serveCmd()
	root.AddCommand(serve)
	c.addAdminCommands(root)
	// With no subcommand, serve (flags of serve are accepted too).
	root.Flags().AddFlagSet(serve.Flags())
	root.RunE = serve.RunE
	return root.ExecuteContext(ctx)
}

// serveFlags are the settings people type; each overrides the file and the environment.
var serveFlags = []struct{ name, key, usage string }{
	{"listen", "listen", "address to listen on (env PORTCULLIS_LISTEN; loopback only in dev mode)"},
	{"issuer", "issuer", "issuer URL (env PORTCULLIS_ISSUER)"},
	{"database", "database", "database: a SQLite path, sqlite://PATH or postgres://... (env PORTCULLIS_DATABASE)"},
	{"secret-key", "secret_key", "32-byte base64 secret key (env PORTCULLIS_SECRET_KEY; prefer the environment)"},
	{"dev", "dev", "dev mode: demo tenant on an empty database, generated secret key, loopback only (env PORTCULLIS_DEV)"},
	{"log-level", "log_level", "debug, info, warn or error (env PORTCULLIS_LOG_LEVEL)"},
}

func (c *cli) serveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server (the default command)",
		Args:  cobra.NoArgs,
	}
	for _, f := range serveFlags {
		cmd.Flags().String(f.name, "", f.usage)
	}
	cmd.Flags().Lookup("dev").NoOptDefVal = "true"
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := c.config()
		if err != nil {
			return err
		}
		for _, f := range serveFlags {
			if fl := cmd.Flags().Lookup(f.name); fl != nil && fl.Changed {
				if err := cfg.Set(f.key, fl.Value.String()); err != nil {
					return fmt.Errorf("--%s: %w", f.name, err)
				}
			}
		}
		if err := cfg.Validate(); err != nil {
			return err
		}
		return c.serve(cmd.Context(), cfg)
	}
	return cmd
}

func (c *cli) config() (app.Config, error) {
	return app.LoadConfig(c.configPath, c.getenv)
}

func (c *cli) logger(cfg app.Config) *slog.Logger { return app.Logger(cfg, c.stderr) }

func (c *cli) serve(ctx context.Context, cfg app.Config) error {
	log := c.logger(cfg)
	slog.SetDefault(log) // the provider library logs only through the default logger (STYLE rule 21)
	if pct, ok := serverGCPercent(c.getenv); ok {
		debug.SetGCPercent(pct)
	}
	a, err := app.New(ctx, cfg, app.Options{Log: log})
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.BootstrapDemo(ctx, c.stdout); err != nil {
		return err
	}
	log.Warn("TOTP codes depend on an accurate clock: keep this host synchronised with NTP", "now", time.Now().UTC().Format(time.RFC3339))
	return a.Serve(ctx, func(addr string) {
		log.Info("listening", "addr", addr, "issuer", cfg.Issuer, "database", redactDSN(cfg.Database), "dev", cfg.Dev)
	})
}

// serverGCPercent is the server's garbage-collection target when GOGC does not set one: 400 (the
// runtime's default is 100). Every password hash allocates 19 MiB (argon2id), so at the default the heap
// reaches its goal every two or three sign-ins and a collection costs a sign-in ~0.8 ms of CPU; at 400
// it is ~0.3 ms, for a heap of ~200 MiB instead of ~100 MiB under full load (at most GOMAXPROCS hashes
// run at once). GOGC and GOMEMLIMIT still decide when set.
func serverGCPercent(getenv func(string) string) (int, bool) {
	if getenv("GOGC") != "" {
		return 0, false
	}
	return 400, true
}

// redactDSN hides a password in a database URL.
func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if j := strings.Index(dsn[i+3:], "@"); j >= 0 {
			return dsn[:i+3] + "***@" + dsn[i+3+j+1:]
		}
	}
	return dsn
}

// Command demo-app runs the demo app: a web app that signs its users in with Portcullis through
// OpenID Connect and shows how they signed in. Its defaults match the dev bootstrap of
// `go run ./cmd/portcullis`: it reads the demo client's id and generated secret from the file the
// bootstrap writes beside the SQLite database (portcullis.demo-client.json), so with the provider
// running in the same folder, `go run ./cmd/demo-app` is enough; then open http://localhost:9090.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/portcullis/portcullis/examples/demoapp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo-app:", err)
		os.Exit(1)
	}
}

// config is the demo app's command line, after defaults and the environment.
type config struct {
	Listen       string
	Issuer       string
	ClientID     string
	ClientSecret string
	ClientFile   string // JSON with "id" and "secret", read when no secret is given
	PublicURL    string
}

// defaultClientFile is where `go run ./cmd/portcullis` (dev mode, default database) keeps the demo
// client; it is app.DemoClientFileName in the working folder.
const defaultClientFile = "portcullis.demo-client.json"

// parseConfig reads flags over DEMO_* variables over the defaults.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	var c config
	fs := flag.NewFlagSet("demo-app", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Listen, "listen", env("DEMO_LISTEN", "127.0.0.1:9090"), "address to listen on (DEMO_LISTEN)")
	fs.StringVar(&c.Issuer, "issuer", env("DEMO_ISSUER", "http://localhost:8080"), "Portcullis issuer URL (DEMO_ISSUER)")
	fs.StringVar(&c.ClientID, "client-id", env("DEMO_CLIENT_ID", ""), "OAuth client id (DEMO_CLIENT_ID; default: the client file's, else demo-app)")
	fs.StringVar(&c.ClientSecret, "client-secret", env("DEMO_CLIENT_SECRET", ""), "OAuth client secret (DEMO_CLIENT_SECRET; default: the client file's)")
	fs.StringVar(&c.ClientFile, "client-file", env("DEMO_CLIENT_FILE", defaultClientFile),
		"JSON file with the client's \"id\" and \"secret\", as the dev bootstrap writes it beside the database and "+
			"`portcullis client create -o json` prints it; read when no secret is given (DEMO_CLIENT_FILE)")
	fs.StringVar(&c.PublicURL, "public-url", env("DEMO_PUBLIC_URL", "http://localhost:9090"),
		"the app's URL as the browser sees it; the redirect URI is its /callback, the post-logout URI its / (DEMO_PUBLIC_URL)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return config{}, fmt.Errorf("public URL %q is not an absolute http(s) URL", c.PublicURL)
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	return c, nil
}

// withClientFile fills in the client id and secret from the client file when no secret was given.
// An id given on the command line or in the environment wins over the file's.
func (c config) withClientFile(readFile func(string) ([]byte, error)) (config, error) {
	if c.ClientSecret != "" {
		if c.ClientID == "" {
			c.ClientID = "demo-app"
		}
		return c, nil
	}
	b, err := readFile(c.ClientFile)
	if errors.Is(err, os.ErrNotExist) {
		return config{}, fmt.Errorf("no client secret: %s does not exist. Start `go run ./cmd/portcullis` in dev mode "+
			"in this folder first (its first start writes the file), or pass --client-id and --client-secret "+
			"(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET) of a client made with `portcullis client create`", c.ClientFile)
	}
	if err != nil {
		return config{}, fmt.Errorf("read the client file: %w", err)
	}
	var f struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return config{}, fmt.Errorf("client file %s: %w", c.ClientFile, err)
	}
	if f.Secret == "" {
		return config{}, fmt.Errorf("client file %s has no \"secret\"", c.ClientFile)
	}
	c.ClientSecret = f.Secret
	if c.ClientID == "" {
		c.ClientID = f.ID
	}
	if c.ClientID == "" {
		return config{}, fmt.Errorf("client file %s has no \"id\"", c.ClientFile)
	}
	return c, nil
}

func (c config) app() demoapp.Config {
	return demoapp.Config{Issuer: c.Issuer, ClientID: c.ClientID, ClientSecret: c.ClientSecret,
		RedirectURL: c.PublicURL + "/callback", PostLogoutURL: c.PublicURL + "/",
		HTTPClient: &http.Client{Timeout: 15 * time.Second}}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if c, err = c.withClientFile(os.ReadFile); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	ac := c.app()
	ac.Log = log
	h, err := demoapp.New(ctx, ac)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "demo app on %s (listening on %s), signing in with %s as client %q\n", c.PublicURL, ln.Addr(), c.Issuer, c.ClientID)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}

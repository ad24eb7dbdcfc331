package app

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is Portcullis' configuration: a YAML file overridden by PORTCULLIS_* environment variables.
type Config struct {
	Listen           string   `yaml:"listen"`
	MetricsListen    string   `yaml:"metrics_listen"` // Prometheus /metrics on its own address; "" = off
	Issuer           string   `yaml:"issuer"`
	Database         string   `yaml:"database"`
	SecretKey        string   `yaml:"secret_key"` // 32 bytes, base64; required outside dev mode
	Dev              bool     `yaml:"dev"`
	LogLevel         string   `yaml:"log_level"`
	LogFormat        string   `yaml:"log_format"` // json or text
	SigningAlgorithm string   `yaml:"signing_algorithm"`
	TrustProxy       bool     `yaml:"trust_proxy"` // take the client address from X-Forwarded-For
	SessionTTL       Duration `yaml:"session_ttl"`
	AccessTokenTTL   Duration `yaml:"access_token_ttl"`
	RefreshTokenTTL  Duration `yaml:"refresh_token_ttl"`
	IDTokenTTL       Duration `yaml:"id_token_ttl"`
	DatabaseMaxConns int      `yaml:"database_max_conns"`
	DemoRedirectURI  string   `yaml:"demo_redirect_uri"` // the demo app's callback, for the dev bootstrap

	Throttle ThrottleConfig `yaml:",inline"` // password throttling (config_throttle.go)

	WebAuthn WebAuthnConfig `yaml:"webauthn"` // passkeys and security keys (config_webauthn.go)
	Mail     MailConfig     `yaml:",inline"`  // smtp.* and links.* (config_mail.go)
}

// Duration reads "15m", "720h" and the like.
type Duration struct{ time.Duration }

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	d.Duration = v
	return nil
}

// DefaultListen is the default listen address: loopback only, as dev mode (the default) demands.
const DefaultListen = "127.0.0.1:8080"

// Defaults: a working server on http://localhost:8080 with the embedded SQLite file.
func Defaults() Config {
	return Config{
		Listen:           DefaultListen,
		Issuer:           "http://localhost:8080",
		Database:         "portcullis.db",
		Dev:              true,
		LogLevel:         "info",
		LogFormat:        "json",
		SigningAlgorithm: "RS256",
		SessionTTL:       Duration{12 * time.Hour},
		AccessTokenTTL:   Duration{15 * time.Minute},
		RefreshTokenTTL:  Duration{30 * 24 * time.Hour},
		IDTokenTTL:       Duration{time.Hour},
		DatabaseMaxConns: 20,
		DemoRedirectURI:  "http://localhost:9090/callback",
		Throttle:         defaultThrottle(),
		Mail:             defaultMail(),
	}
}

// LoadConfig reads the defaults, then the YAML file at path (if path is not empty), then the
// environment. Unknown YAML keys are errors. The result is validated.
func LoadConfig(path string, getenv func(string) string) (Config, error) {
	cfg := Defaults()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("read config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return Config{}, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := cfg.applyEnv(getenv); err != nil {
		return Config{}, err
	}
	return cfg, cfg.Validate()
}

// EnvNames lists the environment variables that override the file.
var envNames = []string{"LISTEN", "METRICS_LISTEN", "ISSUER", "DATABASE", "SECRET_KEY", "DEV", "LOG_LEVEL", "LOG_FORMAT",
	"SIGNING_ALGORITHM", "TRUST_PROXY", "SESSION_TTL", "ACCESS_TOKEN_TTL", "REFRESH_TOKEN_TTL", "ID_TOKEN_TTL",
	"DATABASE_MAX_CONNS", "DEMO_REDIRECT_URI"}

func (c *Config) applyEnv(getenv func(string) string) error {
	var errs []error
	for _, name := range slices.Concat(envNames, throttleEnvNames, webauthnEnvNames, mailEnvNames) {
		v := getenv("PORTCULLIS_" + name)
		if v == "" {
			continue
		}
		if err := c.Set(strings.ToLower(name), v); err != nil {
			errs = append(errs, fmt.Errorf("PORTCULLIS_%s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// Set assigns one setting by its YAML name (used by environment variables and flags).
func (c *Config) Set(key, v string) error {
	var err error
	dur := func(d *Duration) { d.Duration, err = time.ParseDuration(v) }
	switch key {
	case "listen":
		c.Listen = v
	case "metrics_listen":
		c.MetricsListen = v
	case "issuer":
		c.Issuer = v
	case "database":
		c.Database = v
	case "secret_key":
		c.SecretKey = v
	case "dev":
		c.Dev, err = strconv.ParseBool(v)
	case "log_level":
		c.LogLevel = v
	case "log_format":
		c.LogFormat = v
	case "signing_algorithm":
		c.SigningAlgorithm = v
	case "trust_proxy":
		c.TrustProxy, err = strconv.ParseBool(v)
	case "session_ttl":
		dur(&c.SessionTTL)
	case "access_token_ttl":
		dur(&c.AccessTokenTTL)
	case "refresh_token_ttl":
		dur(&c.RefreshTokenTTL)
	case "id_token_ttl":
		dur(&c.IDTokenTTL)
	case "database_max_conns":
		c.DatabaseMaxConns, err = strconv.Atoi(v)
	case "demo_redirect_uri":
		c.DemoRedirectURI = v
	default:
		if c.WebAuthn.set(key, v) {
			return nil
		}
		if ok, terr := c.Throttle.set(key, v); ok {
			return terr
		}
		if ok, merr := c.Mail.set(key, v); ok {
			return merr
		}
		return fmt.Errorf("unknown setting %q", key)
	}
	return err
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(f string, a ...any) { errs = append(errs, fmt.Errorf(f, a...)) }
	if c.Listen == "" {
		bad("listen: must not be empty")
	} else if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen: must be host:port or :port, got %q", c.Listen)
	} else if c.Dev && !isLoopbackListen(c.Listen) {
		bad("listen: dev mode serves a demo tenant with known accounts and listens on loopback only, got %q: "+
			"use %s, or turn dev mode off (dev: false, PORTCULLIS_DEV=false) and create tenants, users and clients with the CLI", c.Listen, DefaultListen)
	}
	if c.MetricsListen != "" {
		if _, port, err := net.SplitHostPort(c.MetricsListen); err != nil {
			bad("metrics_listen: must be host:port or :port (or empty: no metrics), got %q", c.MetricsListen)
		} else if c.MetricsListen == c.Listen && port != "0" {
			bad("metrics_listen: must differ from listen (%q): metrics are never served on the main address", c.Listen)
		}
	}
	if u, err := url.Parse(c.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		bad("issuer: must be an absolute http(s) URL without query or fragment, got %q", c.Issuer)
	} else if c.Dev && !IsLoopbackHost(u.Hostname()) {
		bad("issuer: dev mode runs on this machine only: the issuer must be on a loopback host (localhost, 127.0.0.1, [::1]), got %q; "+
			"turn dev mode off (dev: false, PORTCULLIS_DEV=false) to serve other hosts", c.Issuer)
	} else if u.Scheme == "http" && !IsLoopbackHost(u.Hostname()) {
		bad("issuer: must be https (http is allowed for loopback hosts only), got %q", c.Issuer)
	}
	if c.Database == "" {
		bad("database: must not be empty")
	}
	if c.SecretKey != "" {
		if _, err := c.secretKeyBytes(); err != nil {
			bad("secret_key: %v", err)
		}
	} else if !c.Dev {
		bad("secret_key: required outside dev mode (32 random bytes, base64; e.g. `openssl rand -base64 32`)")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level: must be debug, info, warn or error, got %q", c.LogLevel)
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		bad("log_format: must be json or text, got %q", c.LogFormat)
	}
	switch c.SigningAlgorithm {
	case "RS256", "ES256":
	default:
		bad("signing_algorithm: must be RS256 or ES256, got %q", c.SigningAlgorithm)
	}
	for name, d := range map[string]Duration{"session_ttl": c.SessionTTL, "access_token_ttl": c.AccessTokenTTL,
		"refresh_token_ttl": c.RefreshTokenTTL, "id_token_ttl": c.IDTokenTTL} {
		if d.Duration <= 0 {
			bad("%s: must be positive", name)
		}
	}
	if c.DatabaseMaxConns < 1 {
		bad("database_max_conns: must be at least 1")
	}
	errs = append(errs, c.Throttle.validate()...)
	errs = append(errs, c.Mail.validate()...)
	return errors.Join(errs...)
}

func (c Config) secretKeyBytes() ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(c.SecretKey))
	if err != nil {
		return nil, errors.New("must be base64")
	}
	if len(b) != 32 {
		return nil, fmt.Errorf("must decode to 32 bytes, got %d", len(b))
	}
	return b, nil
}

// IsLoopbackHost reports whether host is localhost or a loopback IP address (127.0.0.0/8, ::1).
// A name that merely starts with "127." is not.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isLoopbackListen reports whether a listen address binds to loopback only. An empty host (":8080")
// or an unspecified address (0.0.0.0, [::]) binds to every interface.
func isLoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && IsLoopbackHost(host)
}

package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/secret"
)

// measures lists every measure, in the order they run.
var allMeasures = []string{"argon2id", "signatures", "discovery", "jwks", "password", "totp", "enrol", "userinfo", "refresh", "refresh-es256", "introspect"}

type options struct {
	target      string
	configPath  string
	measures    []string
	concurrency int
	duration    time.Duration
	count       int
	pid         int
	rounds      int
	warmup      time.Duration // each measure runs this long, unreported, before its first round

	compare      string // another OP's issuer: discovery, JWKS (and userinfo with compareToken)
	compareToken string
	// refresh tokens of the other OP (one per concurrent client) and the client they belong to, for its
	// refresh measure
	compareRefresh []string
	compareClient  clientCreds
	comparePID     int
	compareName    string

	users int // TOTP users to provision (one code per user per 30 s step)
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.target, "target", "http://127.0.0.1:8080", "issuer of the Portcullis server to measure (loopback only)")
	fs.StringVar(&o.configPath, "config", "", "the server's configuration file (database and secret key), as for portcullis")
	ms := fs.String("measures", strings.Join(allMeasures, ","), "comma-separated measures: "+strings.Join(allMeasures, ", "))
	fs.IntVar(&o.concurrency, "concurrency", 8, "concurrent clients")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of each measure")
	fs.IntVar(&o.count, "count", 0, "stop each measure after this many operations (0: only -duration)")
	fs.IntVar(&o.pid, "pid", 0, "process id of the provider (local), to report its CPU per operation from /proc")
	fs.IntVar(&o.rounds, "rounds", 1, "run every measure this many times")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "run each measure this long, unreported, before its first round (the server's heap, caches and connection pools reach their steady state; 0: none)")
	fs.StringVar(&o.compare, "compare", "", "issuer of another OP (loopback) to measure side by side: discovery, jwks, userinfo")
	fs.StringVar(&o.compareToken, "compare-token", "", "an access token of the other OP, for its userinfo")
	refresh := fs.String("compare-refresh-tokens", "", "comma-separated refresh tokens of the other OP, one per concurrent client, for its refresh measure")
	cc := fs.String("compare-client", "", "client_id:client_secret of the other OP's client that holds -compare-refresh-tokens")
	fs.IntVar(&o.comparePID, "compare-pid", 0, "process id of the other OP, for its CPU per operation")
	fs.StringVar(&o.compareName, "compare-name", "other", "name of the other OP in the report")
	fs.IntVar(&o.users, "totp-users", 0, "TOTP users to provision (default: enough for the measure at 100/s)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *refresh != "" {
		o.compareRefresh = strings.Split(*refresh, ",")
		id, sec, ok := strings.Cut(*cc, ":")
		if !ok {
			return o, errors.New("-compare-refresh-tokens needs -compare-client id:secret")
		}
		o.compareClient = clientCreds{id, sec}
	}
	for _, m := range strings.Split(*ms, ",") {
		m = strings.TrimSpace(m)
		if m == "" {
			continue
		}
		if !slices.Contains(allMeasures, m) {
			return o, fmt.Errorf("unknown measure %q (known: %s)", m, strings.Join(allMeasures, ", "))
		}
		o.measures = append(o.measures, m)
	}
	var problems []string
	if o.concurrency < 1 || o.concurrency > 1024 {
		problems = append(problems, "-concurrency: 1 to 1024")
	}
	if o.duration <= 0 || o.duration > time.Hour {
		problems = append(problems, "-duration: more than 0, at most 1h")
	}
	if o.warmup < 0 || o.warmup > time.Hour {
		problems = append(problems, "-warmup: 0 to 1h")
	}
	if o.count < 0 || o.rounds < 1 || o.rounds > 100 {
		problems = append(problems, "-count >= 0, -rounds 1 to 100")
	}
	for _, t := range []string{o.target, o.compare} {
		if t == "" {
			continue
		}
		if err := loopbackOnly(t); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return o, errors.New(strings.Join(problems, "; "))
	}
	if o.users == 0 {
		o.users = int(100 * (30*time.Second + o.duration + o.warmup).Seconds() / 30)
		o.users = max(o.users, 2*o.concurrency)
	}
	return o, nil
}

// loopbackOnly refuses a target whose host is not (or does not resolve only to) a loopback address:
// this tool puts load on what it points at.
func loopbackOnly(target string) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("target %q: an http(s) URL is required", target)
	}
	addrs, err := net.LookupHost(u.Hostname())
	if err != nil || len(addrs) == 0 {
		return fmt.Errorf("target %q: cannot resolve %s", target, u.Hostname())
	}
	for _, a := range addrs {
		ip := net.ParseIP(a)
		if ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("target %q: %s is not a loopback address; loadtest only loads this machine", target, a)
		}
	}
	return nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	needsProvider := slices.ContainsFunc(o.measures, func(m string) bool { return m != "argon2id" })
	var env *env
	if needsProvider {
		if env, err = provision(ctx, o, getenv, log, stderr); err != nil {
			return fmt.Errorf("provision: %w", err)
		}
		defer env.close()
	}
	fmt.Fprintf(stdout, "# loadtest: %s, concurrency %d, %s per measure, %d round(s), GOMAXPROCS %d\n",
		o.target, o.concurrency, o.duration, o.rounds, runtime.GOMAXPROCS(0))
	if err := warmUp(ctx, o, env, stderr); err != nil {
		return err
	}
	var results []result
	for round := 1; round <= o.rounds; round++ {
		for _, m := range o.measures {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if m == "signatures" {
				rs, err := signatureCost(ctx, o)
				if err != nil {
					return fmt.Errorf("%s: %w", m, err)
				}
				for _, r := range rs {
					r.round, r.target = round, "this process"
					results = append(results, r)
					fmt.Fprintln(stderr, r.line())
				}
				continue
			}
			r, err := runMeasure(ctx, o, env, m)
			if err != nil {
				return fmt.Errorf("%s: %w", m, err)
			}
			r.round = round
			results = append(results, r)
			fmt.Fprintln(stderr, r.line())
			if o.compare != "" && comparable(m) {
				r, err := runCompare(ctx, o, env, m)
				if err != nil {
					return fmt.Errorf("%s (%s): %w", m, o.compareName, err)
				}
				r.round = round
				results = append(results, r)
				fmt.Fprintln(stderr, r.line())
			}
		}
	}
	report(stdout, o, results)
	return nil
}

// warmUp runs every measure for o.warmup and discards the results: a server that just started grows
// its heap (each argon2id hash allocates 19 MiB), fills its caches and opens its connections during
// its first seconds of load, and that is not the cost of an operation.
func warmUp(ctx context.Context, o options, env *env, stderr io.Writer) error {
	if o.warmup == 0 {
		return nil
	}
	w := o
	w.duration, w.count = o.warmup, 0
	fmt.Fprintf(stderr, "warming up (%s per measure, not reported)…\n", o.warmup)
	for _, m := range o.measures {
		if m == "signatures" {
			if _, err := signatureCost(ctx, w); err != nil {
				return fmt.Errorf("warm-up %s: %w", m, err)
			}
			continue
		}
		if _, err := runMeasure(ctx, w, env, m); err != nil {
			return fmt.Errorf("warm-up %s: %w", m, err)
		}
		if o.compare != "" && comparable(m) {
			if _, err := runCompare(ctx, w, env, m); err != nil {
				return fmt.Errorf("warm-up %s (%s): %w", m, o.compareName, err)
			}
		}
	}
	return nil
}

// signatureCost measures one RS256 and one ES256 signature (the keys the provider signs with) in this
// process, GOMAXPROCS at once, with this process's CPU per signature: the yardstick of the refresh
// target (two signatures plus 0.3 ms).
func signatureCost(ctx context.Context, o options) ([]result, error) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256([]byte("loadtest"))
	oo := o
	oo.concurrency = runtime.GOMAXPROCS(0)
	rs, err := measure(ctx, oo, "RS256 signature (this process)", "", os.Getpid(), nil, func(context.Context, *worker) error {
		_, err := rsa.SignPKCS1v15(nil, rk, crypto.SHA256, digest[:])
		return err
	})
	if err != nil {
		return nil, err
	}
	es, err := measure(ctx, oo, "ES256 signature (this process)", "", os.Getpid(), nil, func(context.Context, *worker) error {
		_, err := ecdsa.SignASN1(rand.Reader, ek, digest[:])
		return err
	})
	return []result{rs, es}, err
}

func comparable(m string) bool {
	return m == "discovery" || m == "jwks" || m == "userinfo" || m == "refresh"
}

// argonBound measures argon2id in this process with GOMAXPROCS hashes at once: the bound that password
// sign-ins of a provider on this machine cannot beat.
func argonBound(ctx context.Context, o options) (result, error) {
	op := func(ctx context.Context, w *worker) error {
		_, err := secret.HashPassword("correct horse battery staple")
		return err
	}
	oo := o
	oo.concurrency = runtime.GOMAXPROCS(0)
	// Its CPU per hash (this process's) is the yardstick of a sign-in's CPU beyond one hash.
	return measure(ctx, oo, "argon2id (this process, GOMAXPROCS at once)", "", os.Getpid(), nil, op)
}

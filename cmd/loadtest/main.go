// Command loadtest measures a Portcullis server (or, side by side, another OpenID provider) on this
// machine: discovery, JWKS, password sign-in, password+TOTP sign-in, TOTP enrolment, userinfo, refresh
// and introspection, with p50/p99, the provider process's CPU per operation and every error.
//
// It refuses targets that are not on a loopback address. It provisions its own tenants, users (with
// TOTP secrets it knows) and clients in the server's database, through the same configuration as the
// server (-config and PORTCULLIS_* variables). See README.md, "Measuring performance".
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

package app_test

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/app"
	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/mfa/webauthntest"
	"github.com/portcullis/portcullis/storage"
)

// cpuTime is the process's user + system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSignInCPU compares the CPU of a whole password sign-in (argon2id) with a whole passwordless
// passkey sign-in (one ECDSA P-256 verification), each from /authorize to the code exchange, with the
// test client in the same process (its share is small and alike for both). It reports cpu-ms/op:
// go test ./app -run '^$' -bench SignInCPU
func BenchmarkSignInCPU(b *testing.B) {
	for _, d := range benchDialects {
		b.Run(d.name, func(b *testing.B) {
			env := apptest.New(b, d.open(b), func(c *app.Config) { c.Issuer = strings.Replace(c.Issuer, "127.0.0.1", "localhost", 1) })
			env.URL = strings.Replace(env.URL, "127.0.0.1", "localhost", 1)
			ten := env.Tenant("Bench")
			env.User(ten.ID, "ann@bench.test", pw, storage.RoleMember)
			c, sec := env.Client(ten.ID, apptest.ClientOptions{})
			rp := env.RP(c, sec)

			// Ann adds a passkey: the policy on, password, a key instead of an app.
			env.SetMFA(ten.ID, true)
			key := webauthntest.New(env.URL, "localhost")
			br := env.NewBrowser()
			a := rp.Start()
			p := br.Submit(br.Get(a.URL), "/login/password", map[string]string{"email": "ann@bench.test", "password": pw})
			p = br.Get(strings.Replace(p.URL.String(), "/login/enrol?", "/login/key-enrol?", 1))
			p = br.Submit(p, "/login/key-enrol", map[string]string{"credential": string(key.Create(options(b, p)))})
			if _, err := rp.Exchange(a.Code(b, p), a); err != nil {
				b.Fatal(err)
			}
			env.SetMFA(ten.ID, false) // a password alone signs in, for the comparison

			run := func(b *testing.B, signIn func()) {
				start := cpuTime(b)
				for b.Loop() {
					signIn()
				}
				b.ReportMetric(float64(cpuTime(b)-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
			}
			b.Run("password", func(b *testing.B) {
				run(b, func() {
					a, code := rp.SignIn(env.NewBrowser(), "ann@bench.test", pw)
					if _, err := rp.Exchange(code, a); err != nil {
						b.Fatal(err)
					}
				})
			})
			b.Run("passkey", func(b *testing.B) {
				run(b, func() {
					br := env.NewBrowser()
					a := rp.Start()
					p := br.Get(a.URL)
					p = br.Submit(p, "/login/passkey", map[string]string{"credential": string(key.Get(options(b, p)))})
					if _, err := rp.Exchange(a.Code(b, p), a); err != nil {
						b.Fatal(err)
					}
				})
			})
		})
	}
}

package app_test

import (
	"testing"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// BenchmarkPasswordSignIn measures one whole sign-in: /authorize, the login form, the password
// (argon2id), the callback and the code exchange with a confidential client. Compare dialects in one
// run: go test ./app -run '^$' -bench PasswordSignIn
func BenchmarkPasswordSignIn(b *testing.B) {
	for _, d := range []struct {
		name string
		open func(testing.TB) *storage.Store
	}{{"sqlite", storagetest.NewSQLite}, {"postgres", storagetest.NewPostgres}} {
		b.Run(d.name, func(b *testing.B) {
			env := apptest.New(b, d.open(b))
			ten := env.Tenant("Bench")
			env.User(ten.ID, "ann@bench.test", pw, storage.RoleMember)
			c, sec := env.Client(ten.ID, apptest.ClientOptions{})
			rp := env.RP(c, sec)
			b.ResetTimer()
			for b.Loop() {
				a, code := rp.SignIn(env.NewBrowser(), "ann@bench.test", pw)
				if _, err := rp.Exchange(code, a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

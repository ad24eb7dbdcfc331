package storage_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// BenchmarkRotateRefreshToken measures the refresh grant's write (spend the old refresh token, store the
// new access and refresh tokens, one transaction) on each dialect, one at a time:
// go test ./storage -run '^$' -bench RotateRefreshToken
func BenchmarkRotateRefreshToken(b *testing.B) {
	for _, d := range []struct {
		name string
		open func(testing.TB) *storage.Store
	}{{"sqlite", storagetest.NewSQLite}, {"postgres", storagetest.NewPostgres}} {
		b.Run(d.name, func(b *testing.B) {
			st := d.open(b)
			ctx := b.Context()
			pair := func() (storage.AccessToken, storage.RefreshToken) {
				now := time.Now().UTC()
				at := storage.AccessToken{ID: storage.NewID(), GrantID: "grant", TenantID: "tenant", ClientID: "client",
					Subject: "subject", Scopes: []string{"openid", "email", "offline_access"}, Audience: []string{"client"},
					AMR: []string{"pwd"}, ACR: "urn:portcullis:acr:pwd", AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute)}
				rt := storage.RefreshToken{ID: storage.NewID(), TokenHash: storage.NewID(), GrantID: at.GrantID, TenantID: at.TenantID,
					ClientID: at.ClientID, Subject: at.Subject, Scopes: at.Scopes, Audience: at.Audience, AMR: at.AMR, ACR: at.ACR,
					AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
				return at, rt
			}
			at, rt := pair()
			if err := st.CreateTokens(ctx, at, &rt); err != nil {
				b.Fatal(err)
			}
			start := cpuTime()
			for b.Loop() {
				nat, nrt := pair()
				if err := st.RotateRefreshToken(ctx, rt.TokenHash, time.Now(), nat, nrt); err != nil {
					b.Fatal(err)
				}
				rt = nrt
			}
			b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// cpuTime is this process's CPU time so far (user and system): with PostgreSQL, the database server's
// work is not in it.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// Every provider endpoint reads at most 64 KiB of body, also where the login UI's guards read the
// request before the provider (end_session, the callback, /authorize): the limit is outside them.
func TestProviderBodyLimitOutsideGuards(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		big := "state=" + strings.Repeat("a", 9<<20)
		for _, path := range []string{endSessionPath, authorizePath, authorizePath + "/callback", tokenPath} {
			t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
				req, err := http.NewRequest(http.MethodPost, o.env.URL+path, strings.NewReader(big))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r, err := send(req)
				if err != nil {
					t.Fatalf("POST %s: %v", path, err)
				}
				if r.Status != http.StatusRequestEntityTooLarge && r.Status != http.StatusBadRequest {
					t.Errorf("9 MiB POST to %s: %d %.200s, want 413 (or 400)", path, r.Status, r.Body)
				}
			})
		}
	})
}

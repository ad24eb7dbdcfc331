package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// 400 concurrent password POSTs: each gets an answer (signed in, or 503 with Retry-After when the
// bounded argon2id queue is full or its wait ran out), and the heap stays bounded: argon2id runs at
// most GOMAXPROCS hashes (19 MiB each) at once instead of asking for 400 × 19 MiB ≈ 7.4 GiB.
func TestConcurrentPasswordPostsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("400 sign-ins")
	}
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		const n = 400
		o := newOIDCEnv(t, st)
		type post struct {
			client *http.Client
			url    string
			body   string
		}
		posts := make([]post, n)
		for i := range posts {
			b := o.env.NewBrowser()
			p := b.Get(o.rp.Start().URL)
			f := p.Form(t, "/login/password")
			f.Fields.Set("email", o.user.Email)
			f.Fields.Set("password", pw)
			u, err := p.URL.Parse(f.Action)
			if err != nil {
				t.Fatal(err)
			}
			posts[i] = post{b.Client, u.String(), f.Fields.Encode()}
		}

		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		var peak atomic.Uint64
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() { // sample the heap while the POSTs run
			defer close(sampled)
			var m runtime.MemStats
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					runtime.ReadMemStats(&m)
					if m.HeapAlloc > peak.Load() {
						peak.Store(m.HeapAlloc)
					}
				}
			}
		}()

		statuses := make([]int, n)
		retry := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, p := range posts {
			wg.Go(func() {
				<-start
				req, err := http.NewRequest(http.MethodPost, p.url, strings.NewReader(p.body))
				if err != nil {
					errs[i] = err
					return
				}
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := p.client.Do(req)
				if err != nil {
					errs[i] = err
					return
				}
				resp.Body.Close()
				statuses[i], retry[i] = resp.StatusCode, resp.Header.Get("Retry-After")
			})
		}
		close(start)
		wg.Wait()
		close(stop)
		<-sampled

		counts := map[int]int{}
		for i := range n {
			if errs[i] != nil {
				t.Errorf("POST %d: no answer: %v", i, errs[i])
				continue
			}
			counts[statuses[i]]++
			switch statuses[i] {
			case http.StatusFound, http.StatusSeeOther: // sent on to the app with a code
			case http.StatusServiceUnavailable:
				if retry[i] == "" {
					t.Errorf("POST %d: 503 without Retry-After", i)
				}
			default:
				t.Errorf("POST %d: status %d", i, statuses[i])
			}
		}
		grew := int64(peak.Load()) - int64(base.HeapAlloc)
		t.Logf("answers %v; heap %d MiB before, peak %d MiB (+%d MiB)", counts, base.HeapAlloc>>20, peak.Load()>>20, grew>>20)
		if counts[http.StatusFound]+counts[http.StatusSeeOther] == 0 {
			t.Errorf("no sign-in succeeded")
		}
		// GOMAXPROCS hashes of 19 MiB, plus garbage not yet collected; unbounded it is ~400 × 19 MiB.
		if limit := int64(runtime.GOMAXPROCS(0))*19<<20 + 400<<20; grew > limit {
			t.Errorf("heap grew by %d MiB during 400 concurrent POSTs, want <= %d MiB", grew>>20, limit>>20)
		}
	})
}

// Enrolment through the app stores the recovery codes with the keyed hash (HMAC-SHA-256 under a key
// derived from the secret key), not argon2id: ten argon2id hashes made enrolment ~10× a sign-in.
func TestEnrolmentRecoveryCodesKeyedHash(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMFAEnv(t, st, true)
		_, codes, _, _ := m.enrol(t, m.env.NewBrowser())
		stored, err := st.UnusedRecoveryCodes(context.Background(), m.user.ID)
		if err != nil || len(stored) != len(codes) {
			t.Fatalf("stored codes: %d, %v", len(stored), err)
		}
		for _, c := range stored {
			if !strings.HasPrefix(c.Hash, secret.KeyedHashPrefix) {
				t.Errorf("recovery code stored as %.12q…, want %q", c.Hash, secret.KeyedHashPrefix)
			}
		}
	})
}

// JWKS and discovery are served from memory, but a key rotated on another instance (or by the CLI)
// is published by every instance within the key cache's TTL, in both documents.
func TestKeyRotationReachesCachedJWKSAndDiscovery(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		a := apptest.New(t, st)
		b := a.Second()
		kids := func() []string {
			var set jose.JSONWebKeySet
			if err := json.Unmarshal([]byte(get(t, a.URL+keysPath, nil).Body), &set); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, k := range set.Keys {
				ids = append(ids, k.KeyID)
			}
			return ids
		}
		algs := func() []any {
			m := get(t, a.URL+"/.well-known/openid-configuration", nil).JSON(t)
			v, _ := m["id_token_signing_alg_values_supported"].([]any)
			return v
		}
		before, beforeAlgs := kids(), algs()
		_ = algs() // served from memory the second time
		sk, err := b.App.Keys.Rotate(context.Background(), jose.ES256, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		a.Clock.Advance(11 * time.Second) // past the key cache's TTL (10 s)
		after := kids()
		if !slices.Contains(after, sk.ID) || len(after) != len(before)+1 {
			t.Errorf("instance a publishes %v after b rotated to %s (before %v)", after, sk.ID, before)
		}
		// Both algorithms always have an active key (issue 9: clients may register for ES256), so
		// discovery lists both, RS256 first, before and after.
		want := []any{"RS256", "ES256"}
		if got := algs(); !slices.Equal(got, want) || !slices.Equal(beforeAlgs, want) {
			t.Errorf("discovery algorithms %v before, %v after the rotation to ES256, want %v", beforeAlgs, got, want)
		}
	})
}

package op

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/clientreg"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// countingHasher is a Hasher that counts its verifications, and answers busy when told to.
type countingHasher struct {
	inner *secret.Hasher
	calls atomic.Int32
	busy  atomic.Bool
}

func (h *countingHasher) Verify(ctx context.Context, encoded, pw string) (bool, error) {
	h.calls.Add(1)
	if h.busy.Load() {
		return false, fmt.Errorf("verify password: %w", secret.ErrBusy)
	}
	return h.inner.Verify(ctx, encoded, pw)
}

// legacyClient stores a confidential client whose secret is hashed with argon2id, as before the
// current scheme.
func legacyClient(t *testing.T, st *storage.Store, sec string) storage.Client {
	t.Helper()
	ctx := t.Context()
	tn, err := st.CreateTenant(ctx, storage.Tenant{Slug: "acme", Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	hash, err := secret.HashPassword(sec)
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.CreateClient(ctx, storage.Client{TenantID: tn.ID, Name: "legacy", SecretHash: hash,
		RedirectURIs: []string{"https://app.test/cb"}, Grants: []string{clientreg.GrantAuthorizationCode, clientreg.GrantClientCredentials}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A client secret hashed with argon2id before the current scheme is verified through the bounded
// Hasher (never outside it), once per request; busy is not a wrong secret; the first success replaces
// the hash with the current scheme's, after which the Hasher is not used at all.
func TestLegacyClientSecret(t *testing.T) {
	st := storagetest.NewSQLite(t)
	const sec = "legacy-secret-0123456789"
	c := legacyClient(t, st, sec)
	h := &countingHasher{inner: secret.NewHasher(secret.HasherOptions{Limit: 1})}
	s := &Storage{Store: st, Hasher: h, Now: time.Now, Log: slog.New(slog.NewTextHandler(t.Output(), nil))}
	hash := func() string {
		t.Helper()
		got, err := st.ClientByID(t.Context(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.SecretHash
	}
	wantCalls := func(what string, n int32) {
		t.Helper()
		if got := h.calls.Load(); got != n {
			t.Errorf("%s: %d verifications through the Hasher, want %d", what, got, n)
		}
	}

	// A wrong secret: verified through the Hasher, refused as a wrong secret, the hash kept. The
	// library's check later in the same request takes the verdict.
	ctx := withClientMemo(t.Context())
	for range 2 {
		if err := s.AuthorizeClientIDSecret(ctx, c.ID, "wrong"); err == nil || errors.Is(err, secret.ErrBusy) {
			t.Errorf("wrong secret: %v", err)
		}
	}
	wantCalls("a wrong secret, checked twice in one request", 1)
	if hash() != c.SecretHash {
		t.Error("a wrong secret changed the hash")
	}

	// No slot: busy (503 at the handler), not invalid credentials; nothing written.
	h.busy.Store(true)
	if err := s.AuthorizeClientIDSecret(withClientMemo(t.Context()), c.ID, sec); !errors.Is(err, secret.ErrBusy) {
		t.Errorf("busy: %v, want ErrBusy", err)
	}
	h.busy.Store(false)
	wantCalls("busy", 2)
	if hash() != c.SecretHash {
		t.Error("a busy check changed the hash")
	}

	// The right secret: accepted, and the hash is now the current scheme's.
	ctx = withClientMemo(t.Context())
	if err := s.AuthorizeClientIDSecret(ctx, c.ID, sec); err != nil {
		t.Fatalf("right secret: %v", err)
	}
	wantCalls("the right secret", 3)
	if got := hash(); got != secret.HashClientSecret(sec) {
		t.Fatalf("hash after the first use: %q, want the current scheme's", got)
	}
	// Later checks, in this request and the next, take the fast path: no Hasher.
	for _, ctx := range []context.Context{ctx, withClientMemo(t.Context()), t.Context()} {
		if err := s.AuthorizeClientIDSecret(ctx, c.ID, sec); err != nil {
			t.Errorf("after the upgrade: %v", err)
		}
		if err := s.AuthorizeClientIDSecret(ctx, c.ID, "wrong"); err == nil {
			t.Error("after the upgrade, a wrong secret passed")
		}
	}
	wantCalls("after the upgrade", 3)
}

// At the handler, a legacy secret's verification that finds no slot answers 503 with Retry-After, at
// the token endpoint (every grant, the code grant before its code is spent), introspection and
// revocation; a wrong one answers invalid_client.
func TestLegacyClientSecretBusyAnswer(t *testing.T) {
	st := storagetest.NewSQLite(t)
	const sec = "legacy-secret-0123456789"
	c := legacyClient(t, st, sec)
	h := &countingHasher{inner: secret.NewHasher(secret.HasherOptions{Limit: 1})}
	s := &Storage{Store: st, Hasher: h, Now: time.Now, Log: slog.New(slog.NewTextHandler(t.Output(), nil))}
	p, err := New(Config{Issuer: "http://localhost:1", AllowInsecure: true, LoginPath: "/login/"}, s)
	if err != nil {
		t.Fatal(err)
	}
	post := func(path string, form url.Values, id, pw string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(pw))
		w := httptest.NewRecorder()
		p.Handler.ServeHTTP(w, r)
		return w
	}
	h.busy.Store(true)
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/oauth/token", url.Values{"grant_type": {"client_credentials"}}},
		{"/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {"https://app.test/cb"}}},
		{"/oauth/introspect", url.Values{"token": {"x"}}},
		{"/revoke", url.Values{"token": {"x"}}},
	} {
		w := post(tc.path, tc.form, c.ID, sec)
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" ||
			!strings.Contains(w.Body.String(), "temporarily_unavailable") {
			t.Errorf("%s %v, busy: %d %s %q", tc.path, tc.form, w.Code, w.Header().Get("Retry-After"), w.Body.String())
		}
	}
	h.busy.Store(false)
	if w := post("/oauth/introspect", url.Values{"token": {"x"}}, c.ID, "wrong"); w.Code != http.StatusUnauthorized {
		t.Errorf("wrong legacy secret: %d %s", w.Code, w.Body.String())
	}
}

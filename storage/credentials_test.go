package storage_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// A ceremony's challenge is taken once, also by racing instances; a new one replaces the old; a
// credential's sign count moves by compare-and-set; credentials go with a reset.
func TestWebAuthnStorage(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		ten, err := st.CreateTenant(ctx, storage.Tenant{Slug: "acme", Name: "Acme"})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ten.MFAMethods, []string{"totp", "webauthn"}) {
			t.Errorf("default methods %v", ten.MFAMethods)
		}
		u, err := st.CreateUser(ctx, storage.User{TenantID: ten.ID, Email: "ann@acme.test", PasswordHash: "x"})
		if err != nil {
			t.Fatal(err)
		}
		cl, err := st.CreateClient(ctx, storage.Client{TenantID: ten.ID, Name: "app", RedirectURIs: []string{"https://app.example/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		a := storage.AuthRequest{ID: storage.NewID(), TenantID: ten.ID, ClientID: cl.ID, RedirectURI: "https://app.example/cb",
			ResponseType: "code", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := st.CreateAuthRequest(ctx, a); err != nil {
			t.Fatal(err)
		}
		put := func(data string) {
			if err := st.PutChallenge(ctx, storage.WebAuthnChallenge{AuthRequestID: a.ID, Purpose: "assert", UserID: u.ID, TenantID: ten.ID,
				SessionData: data, ExpiresAt: now.Add(5 * time.Minute)}); err != nil {
				t.Fatal(err)
			}
		}
		put("first")
		put("second") // replaces the first
		const racers = 8
		var wg sync.WaitGroup
		got := make([]storage.WebAuthnChallenge, racers)
		errs := make([]error, racers)
		start := make(chan struct{})
		for i := range racers {
			wg.Go(func() { <-start; got[i], errs[i] = st.TakeChallenge(ctx, a.ID, "assert") })
		}
		close(start)
		wg.Wait()
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
				if got[i].SessionData != "second" || got[i].UserID != u.ID || !got[i].ExpiresAt.Equal(now.Add(5*time.Minute)) {
					t.Errorf("taken %+v", got[i])
				}
			case !errors.Is(err, storage.ErrNotFound):
				t.Errorf("racer %d: %v, want ErrNotFound", i, err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d racers took the challenge, want 1", wins)
		}

		if err := st.ResetMFA(ctx, u.ID, &storage.EnrolmentCode{TenantID: ten.ID, CodeHash: "h", CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
			storage.AuditEvent{TenantID: ten.ID, Action: "mfa.reset", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		c, err := st.CreateCredential(ctx, storage.WebAuthnCredential{CredentialID: []byte{1, 2, 3}, UserID: u.ID, TenantID: ten.ID,
			PublicKey: []byte{9}, SignCount: 5, Transports: []string{"usb", "nfc"}, Name: "key", CreatedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.CreateCredential(ctx, storage.WebAuthnCredential{CredentialID: []byte{1, 2, 3}, UserID: u.ID, TenantID: ten.ID,
			PublicKey: []byte{9}, CreatedAt: now}); !errors.Is(err, storage.ErrAlreadyExists) {
			t.Errorf("duplicate credential id: %v", err)
		}
		if _, err := st.EnrolmentCodeByUser(ctx, u.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("the enrolment code after adding a key: %v, want spent", err)
		}
		if err := st.UseCredential(ctx, c.ID, 5, 6, false, now); err != nil {
			t.Fatal(err)
		}
		if err := st.UseCredential(ctx, c.ID, 5, 6, false, now); !errors.Is(err, storage.ErrConflict) {
			t.Errorf("a stale sign count: %v, want ErrConflict", err)
		}
		back, err := st.CredentialByCredentialID(ctx, []byte{1, 2, 3})
		if err != nil || back.SignCount != 6 || !back.LastUsedAt.Equal(now) || !slices.Equal(back.Transports, []string{"usb", "nfc"}) {
			t.Errorf("credential %+v %v", back, err)
		}
		if err := st.RenameCredential(ctx, "someone else", c.ID, "x"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("renaming another user's key: %v", err)
		}
		if err := st.ResetMFA(ctx, u.ID, nil, storage.AuditEvent{TenantID: ten.ID, Action: "mfa.reset", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if creds, _ := st.CredentialsByUser(ctx, u.ID); len(creds) != 0 {
			t.Errorf("keys after a reset: %d", len(creds))
		}
	})
}

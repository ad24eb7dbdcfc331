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

// A challenge bound to an SSO session (a key added from the account page) is taken once and only by
// that session, a newer one replaces it, it goes with its session, and the sweep takes it when expired.
func TestWebAuthnSessionChallenge(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		ten, err := st.CreateTenant(ctx, storage.Tenant{Slug: "acme", Name: "Acme"})
		if err != nil {
			t.Fatal(err)
		}
		u, err := st.CreateUser(ctx, storage.User{TenantID: ten.ID, Email: "ann@acme.test", PasswordHash: "x"})
		if err != nil {
			t.Fatal(err)
		}
		session := func() storage.Session {
			s := storage.Session{ID: storage.NewID(), TenantID: ten.ID, UserID: u.ID, Factors: []string{"pwd"}, AuthTime: now,
				CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := st.CreateSession(ctx, s); err != nil {
				t.Fatal(err)
			}
			return s
		}
		s1, s2 := session(), session()
		put := func(sessionID, data string, expires time.Time) {
			t.Helper()
			if err := st.PutChallenge(ctx, storage.WebAuthnChallenge{SessionID: sessionID, Purpose: "account-register", UserID: u.ID,
				TenantID: ten.ID, SessionData: data, ExpiresAt: expires}); err != nil {
				t.Fatal(err)
			}
		}
		put(s1.ID, "first", now.Add(5*time.Minute))
		put(s1.ID, "second", now.Add(5*time.Minute)) // replaces the first
		put(s2.ID, "other session", now.Add(5*time.Minute))
		if err := st.PutChallenge(ctx, storage.WebAuthnChallenge{SessionID: s1.ID, AuthRequestID: "x", Purpose: "p", TenantID: ten.ID,
			ExpiresAt: now}); err == nil {
			t.Error("a challenge bound to a sign-in and a session was stored")
		}
		// Not by the sign-in column, not by another purpose, not with an empty id.
		for _, take := range []func() (storage.WebAuthnChallenge, error){
			func() (storage.WebAuthnChallenge, error) { return st.TakeChallenge(ctx, s1.ID, "account-register") },
			func() (storage.WebAuthnChallenge, error) { return st.TakeSessionChallenge(ctx, s1.ID, "register") },
			func() (storage.WebAuthnChallenge, error) { return st.TakeSessionChallenge(ctx, "", "account-register") },
		} {
			if _, err := take(); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("take: %v, want ErrNotFound", err)
			}
		}
		got, err := st.TakeSessionChallenge(ctx, s1.ID, "account-register")
		if err != nil || got.SessionData != "second" || got.SessionID != s1.ID || got.AuthRequestID != "" || got.UserID != u.ID {
			t.Fatalf("taken %+v %v", got, err)
		}
		if _, err := st.TakeSessionChallenge(ctx, s1.ID, "account-register"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("taken twice: %v", err)
		}
		// The other session's challenge ends with its session.
		if err := st.DeleteSession(ctx, s2.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.TakeSessionChallenge(ctx, s2.ID, "account-register"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("challenge of an ended session: %v", err)
		}
		// An abandoned ceremony of a session that lives on is swept once expired.
		put(s1.ID, "abandoned", now.Add(5*time.Minute))
		if _, err := st.Sweep(ctx, now.Add(10*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := st.TakeSessionChallenge(ctx, s1.ID, "account-register"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("expired challenge after the sweep: %v", err)
		}
	})
}

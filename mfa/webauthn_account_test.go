package mfa

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/portcullis/portcullis/mfa/webauthntest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// session makes an SSO session of user, as a sign-in would.
func (f *fixture) session(t *testing.T, user storage.User) string {
	t.Helper()
	now := f.clk.Now()
	s := storage.Session{ID: storage.NewID(), TenantID: user.TenantID, UserID: user.ID, Factors: []string{FactorPassword}, AuthTime: now,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := f.st.CreateSession(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s.ID
}

// Adding a key from the account page: the challenge is the session's, once; another session of the
// same user, another user, a sign-in's ceremony and an admin's pending enrolment code are refused.
func TestWebAuthnAccountRegistration(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		k := newKeys(t, f)
		ann, bob := f.user(t, "ann@acme.test"), f.user(t, "bob@acme.test")
		s1, s2 := f.session(t, ann), f.session(t, ann)

		key := webauthntest.New(testIssuer, testRPID)
		opts, err := k.BeginAccountRegistration(ctx, ann, s1)
		if err != nil {
			t.Fatal(err)
		}
		answer := key.Create(opts)
		// Another session of ann cannot finish it, nor can a sign-in of hers.
		if _, err := k.FinishAccountRegistration(ctx, ann, s2, "x", answer, Meta{}); !errors.Is(err, ErrNoChallenge) {
			t.Errorf("another session: %v, want ErrNoChallenge", err)
		}
		if _, err := k.FinishRegistration(ctx, ann, f.signIn(t, ann), "x", answer, Meta{}); !errors.Is(err, ErrNoChallenge) {
			t.Errorf("a sign-in's registration: %v, want ErrNoChallenge", err)
		}
		c, err := k.FinishAccountRegistration(ctx, ann, s1, " Laptop ", answer, Meta{})
		if err != nil {
			t.Fatalf("finish: %v", err)
		}
		if c.Name != "Laptop" || c.UserID != ann.ID || !c.UserVerified {
			t.Errorf("credential %+v", c)
		}
		if _, err := k.FinishAccountRegistration(ctx, ann, s1, "x", answer, Meta{}); !errors.Is(err, ErrNoChallenge) {
			t.Errorf("replay: %v, want ErrNoChallenge", err)
		}

		// A newer ceremony replaces the older; another user's challenge is not this user's.
		old, err := k.BeginAccountRegistration(ctx, ann, s1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.BeginAccountRegistration(ctx, ann, s1); err != nil {
			t.Fatal(err)
		}
		second := webauthntest.New(testIssuer, testRPID)
		if _, err := k.FinishAccountRegistration(ctx, ann, s1, "x", second.Create(old), Meta{}); !errors.Is(err, ErrKeyRefused) {
			t.Errorf("the replaced challenge's answer: %v, want ErrKeyRefused", err)
		}
		bobOpts, err := k.BeginAccountRegistration(ctx, ann, s2)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.FinishAccountRegistration(ctx, bob, s2, "x", second.Create(bobOpts), Meta{}); !errors.Is(err, ErrNoChallenge) {
			t.Errorf("another user: %v, want ErrNoChallenge", err)
		}
		// Expired.
		opts, err = k.BeginAccountRegistration(ctx, ann, s2)
		if err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(ChallengeTTL + time.Second)
		if _, err := k.FinishAccountRegistration(ctx, ann, s2, "x", second.Create(opts), Meta{}); !errors.Is(err, ErrNoChallenge) {
			t.Errorf("expired: %v, want ErrNoChallenge", err)
		}

		// An admin's reset left an enrolment code: only a sign-in that presents it enrols.
		if err := st.ResetMFA(ctx, bob.ID, &storage.EnrolmentCode{TenantID: f.tenant.ID, CodeHash: "h", CreatedAt: f.clk.Now(),
			ExpiresAt: f.clk.Now().Add(time.Hour)}, storage.AuditEvent{TenantID: f.tenant.ID, Action: "mfa.reset", CreatedAt: f.clk.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, err := k.BeginAccountRegistration(ctx, bob, f.session(t, bob)); !errors.Is(err, ErrEnrolmentCodeRequired) {
			t.Errorf("begin with an enrolment code pending: %v", err)
		}
		if _, err := k.FinishAccountRegistration(ctx, bob, f.session(t, bob), "x", second.Create(opts), Meta{}); !errors.Is(err, ErrEnrolmentCodeRequired) {
			t.Errorf("finish with an enrolment code pending: %v", err)
		}
		if creds, _ := st.CredentialsByUser(ctx, ann.ID); len(creds) != 1 {
			t.Errorf("ann has %d keys, want 1", len(creds))
		}
		if creds, _ := st.CredentialsByUser(ctx, bob.ID); len(creds) != 0 {
			t.Errorf("bob has %d keys, want 0", len(creds))
		}
	})
}

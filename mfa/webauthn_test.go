package mfa

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/portcullis/portcullis/mfa/webauthntest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
	"github.com/portcullis/portcullis/throttle"
)

const (
	testIssuer = "https://id.example.com"
	testRPID   = "id.example.com"
)

var _ KeyStore = (*storage.Store)(nil)

// newKeys is the relying party of the tests. Its throttle never delays, so that each refusal is seen
// for its own reason; TestWebAuthnRefusalsThrottled uses the real policy.
func newKeys(t *testing.T, f *fixture) *Keys {
	t.Helper()
	k, err := NewKeys(KeysConfig{Issuer: testIssuer}, f.st, f.clk.Now, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	k.Limiter = &throttle.Limiter{Store: f.st, Now: f.clk.Now}
	return k
}

// A refused key answer counts on the user's second-factor throttle like a wrong code: the fifth in a
// row locks the user out of every second factor, a right answer is then refused too, and an accepted
// answer clears the count.
func TestWebAuthnRefusalsThrottled(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		k := newKeys(t, f)
		k.Limiter = nil // the OTP policy on the store
		ann := f.user(t, "ann@acme.test")
		annKey, other := webauthntest.New(testIssuer, testRPID), webauthntest.New(testIssuer, testRPID)
		register(t, k, f, ann, annKey)
		attempt := func(key *webauthntest.Authenticator) error {
			req := f.signIn(t, ann)
			opts, err := k.BeginLogin(ctx, ann, req)
			if err != nil {
				t.Fatal(err)
			}
			_, err = k.FinishLogin(ctx, ann, req, key.Get(opts), Meta{})
			return err
		}
		// Two refusals, then the right key: accepted, and the count starts over.
		for range 2 {
			if err := attempt(other); !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("foreign key: %v", err)
			}
		}
		if err := attempt(annKey); err != nil {
			t.Fatalf("right key after two refusals: %v", err)
		}
		var le *throttle.LockedError
		for i := 1; i <= 5; i++ {
			err := attempt(other)
			if i < 3 && !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("refusal %d after a success: %v (the count did not start over)", i, err)
			}
			if i == 5 && (!errors.As(err, &le) || !le.Lockout) {
				t.Fatalf("fifth refusal: %v, want a lockout", err)
			}
			f.clk.Advance(time.Minute) // past each growing delay, not past the lockout
		}
		if err := attempt(annKey); !errors.As(err, &le) {
			t.Errorf("right key while locked out: %v, want the lockout", err)
		}
		if err := f.svc.Verify(ctx, ann, "000000", Meta{}); !errors.As(err, &le) {
			t.Errorf("a code while locked out by key refusals: %v, want the lockout", err)
		}
		if f.actions(t)[AuditLockout] != 1 {
			t.Errorf("audit %v, want one lockout", f.actions(t))
		}
	})
}

// register adds a key of auth to user through a sign-in of the user.
func register(t *testing.T, k *Keys, f *fixture, user storage.User, auth *webauthntest.Authenticator) storage.WebAuthnCredential {
	t.Helper()
	ctx := context.Background()
	req := f.signIn(t, user)
	opts, err := k.BeginRegistration(ctx, user, req)
	if err != nil {
		t.Fatal(err)
	}
	c, err := k.FinishRegistration(ctx, user, req, "my key", auth.Create(opts), Meta{})
	if err != nil {
		t.Fatalf("finish registration: %v", err)
	}
	return c
}

func TestWebAuthnCeremonies(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		k := newKeys(t, f)
		ann, bob := f.user(t, "ann@acme.test"), f.user(t, "bob@acme.test")
		annKey, bobKey := webauthntest.New(testIssuer, testRPID), webauthntest.New(testIssuer, testRPID)
		c := register(t, k, f, ann, annKey)
		register(t, k, f, bob, bobKey)
		if c.Name != "my key" || !c.UserVerified || c.SignCount != 1 || len(c.Transports) != 1 {
			t.Errorf("stored credential %+v", c)
		}

		t.Run("second factor", func(t *testing.T) {
			req := f.signIn(t, ann)
			opts, err := k.BeginLogin(ctx, ann, req)
			if err != nil {
				t.Fatal(err)
			}
			answer := annKey.Get(opts)
			a, err := k.FinishLogin(ctx, ann, req, answer, Meta{})
			if err != nil {
				t.Fatalf("finish login: %v", err)
			}
			if !slices.Equal(a.Factors(), []string{FactorHardwareKey, FactorUserVerified}) {
				t.Errorf("factors %q", a.Factors())
			}
			// The same answer again: the challenge is spent.
			if _, err := k.FinishLogin(ctx, ann, req, answer, Meta{}); !errors.Is(err, ErrNoChallenge) {
				t.Errorf("replayed answer: %v, want ErrNoChallenge", err)
			}
		})

		t.Run("foreign challenge", func(t *testing.T) {
			reqA, reqB := f.signIn(t, ann), f.signIn(t, ann)
			opts, err := k.BeginLogin(ctx, ann, reqA)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := k.BeginLogin(ctx, ann, reqB); err != nil {
				t.Fatal(err)
			}
			// An answer to sign-in A's challenge, posted to sign-in B: B's challenge differs.
			if _, err := k.FinishLogin(ctx, ann, reqB, annKey.Get(opts), Meta{}); !errors.Is(err, ErrKeyRefused) {
				t.Errorf("answer to another sign-in's challenge: %v, want ErrKeyRefused", err)
			}
			// Another user cannot finish ann's ceremony.
			if _, err := k.FinishLogin(ctx, bob, reqA, bobKey.Get(opts), Meta{}); !errors.Is(err, ErrNoChallenge) {
				t.Errorf("another user's ceremony: %v, want ErrNoChallenge", err)
			}
		})

		t.Run("wrong origin and rp id", func(t *testing.T) {
			for _, bad := range []*webauthntest.Authenticator{
				{Origin: "https://id.example.com.evil.test", RPID: testRPID},
				{Origin: testIssuer, RPID: "evil.test"},
			} {
				annKeyCopy(annKey, bad)
				req := f.signIn(t, ann)
				opts, err := k.BeginLogin(ctx, ann, req)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := k.FinishLogin(ctx, ann, req, bad.Get(opts), Meta{}); !errors.Is(err, ErrKeyRefused) {
					t.Errorf("origin %s rp %s: %v, want ErrKeyRefused", bad.Origin, bad.RPID, err)
				}
			}
		})

		t.Run("credential of another user", func(t *testing.T) {
			req := f.signIn(t, ann)
			opts, err := k.BeginLogin(ctx, ann, req)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := k.FinishLogin(ctx, ann, req, bobKey.Get(opts), Meta{}); err == nil {
				t.Error("bob's key signed ann in")
			}
		})

		t.Run("sign count backwards", func(t *testing.T) {
			req := f.signIn(t, ann)
			opts, err := k.BeginLogin(ctx, ann, req)
			if err != nil {
				t.Fatal(err)
			}
			annKey.SignCount = 0 // a clone that starts over: the next assertion says 1
			if _, err := k.FinishLogin(ctx, ann, req, annKey.Get(opts), Meta{}); !errors.Is(err, ErrSignCountBackward) {
				t.Errorf("counter backwards: %v, want ErrSignCountBackward", err)
			}
			if f.actions(t)[AuditKeyCloneWarning] != 1 {
				t.Errorf("audit %v", f.actions(t))
			}
		})

		t.Run("disabled user", func(t *testing.T) {
			carl := f.user(t, "carl@acme.test")
			key := webauthntest.New(testIssuer, testRPID)
			register(t, k, f, carl, key)
			req := f.signIn(t, carl)
			opts, err := k.BeginLogin(ctx, carl, req)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.UpdateUser(ctx, carl.ID, func(u *storage.User) error { u.Disabled = true; return nil }); err != nil {
				t.Fatal(err)
			}
			// Disabling the user ended the sign-in begun before, and its challenge with it.
			if _, err := k.FinishLogin(ctx, carl, req, key.Get(opts), Meta{}); !errors.Is(err, ErrNoChallenge) {
				t.Errorf("disabled user, sign-in begun before: %v, want ErrNoChallenge", err)
			}
			req = f.signIn(t, carl)
			if opts, err = k.BeginLogin(ctx, carl, req); err != nil {
				t.Fatal(err)
			}
			if _, err := k.FinishLogin(ctx, carl, req, key.Get(opts), Meta{}); !errors.Is(err, ErrUserDisabled) {
				t.Errorf("disabled user: %v, want ErrUserDisabled", err)
			}
			preq := f.signIn(t, carl)
			popts, err := k.BeginPasskey(ctx, f.tenant.ID, preq)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := k.FinishPasskey(ctx, f.tenant.ID, preq, key.Get(popts), Meta{}); !errors.Is(err, ErrUserDisabled) {
				t.Errorf("disabled user passkey: %v, want ErrUserDisabled", err)
			}
		})

		t.Run("passkey", func(t *testing.T) {
			key := webauthntest.New(testIssuer, testRPID)
			dan := f.user(t, "dan@acme.test")
			register(t, k, f, dan, key)
			req := f.signIn(t, dan)
			opts, err := k.BeginPasskey(ctx, f.tenant.ID, req)
			if err != nil {
				t.Fatal(err)
			}
			a, err := k.FinishPasskey(ctx, f.tenant.ID, req, key.Get(opts), Meta{})
			if err != nil {
				t.Fatalf("passkey: %v", err)
			}
			if a.User.ID != dan.ID || !DecideFor(a.Factors(), Demand{TenantMFA: true}).Satisfied {
				t.Errorf("passkey sign-in %+v", a)
			}
			// Another tenant's sign-in: the credential is not one of its users'.
			other, err := st.CreateTenant(ctx, storage.Tenant{Slug: "other", Name: "Other"})
			if err != nil {
				t.Fatal(err)
			}
			oreq := f.signIn(t, dan)
			if err := st.PutChallenge(ctx, storage.WebAuthnChallenge{}); err == nil {
				t.Fatal("a challenge without a sign-in was stored")
			}
			oopts, err := k.BeginPasskey(ctx, other.ID, oreq)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := k.FinishPasskey(ctx, other.ID, oreq, key.Get(oopts), Meta{}); !errors.Is(err, ErrUnknownKey) {
				t.Errorf("other tenant: %v, want ErrUnknownKey", err)
			}
			// Without user verification a passkey names its user and proves possession only: one factor,
			// the password must follow.
			key.UserVerified = false
			req2 := f.signIn(t, dan)
			opts2, err := k.BeginPasskey(ctx, f.tenant.ID, req2)
			if err != nil {
				t.Fatal(err)
			}
			a, err = k.FinishPasskey(ctx, f.tenant.ID, req2, key.Get(opts2), Meta{})
			if err != nil {
				t.Fatalf("passkey without user verification: %v", err)
			}
			if a.User.ID != dan.ID || a.UserVerified || !slices.Equal(a.Factors(), []string{FactorHardwareKey}) || HasFirstFactor(a.Factors()) {
				t.Errorf("passkey without user verification: user %s verified %v factors %q", a.User.ID, a.UserVerified, a.Factors())
			}
		})

		t.Run("synced passkey without counter", func(t *testing.T) {
			key := webauthntest.New(testIssuer, testRPID)
			key.BackupElig, key.SignCount = true, 0
			eve := f.user(t, "eve@acme.test")
			register(t, k, f, eve, key)
			for range 2 {
				req := f.signIn(t, eve)
				opts, err := k.BeginLogin(ctx, eve, req)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := k.FinishLogin(ctx, eve, req, key.Get(opts), Meta{}); err != nil {
					t.Errorf("synced passkey with counter 0: %v", err)
				}
			}
		})

		t.Run("reset removes keys", func(t *testing.T) {
			if err := st.ResetMFA(ctx, bob.ID, nil, storage.AuditEvent{TenantID: f.tenant.ID, Action: "mfa.reset", CreatedAt: f.clk.Now()}); err != nil {
				t.Fatal(err)
			}
			if has, err := k.HasKey(ctx, bob.ID); err != nil || has {
				t.Errorf("bob has a key after reset: %v %v", has, err)
			}
		})
	})
}

// annKeyCopy gives bad the credential and key of src (so only its origin or RP ID differ).
func annKeyCopy(src, bad *webauthntest.Authenticator) *webauthntest.Authenticator {
	c := *src
	c.Origin, c.RPID = bad.Origin, bad.RPID
	*bad = c
	return bad
}

func TestNewKeysRefusesIPIssuer(t *testing.T) {
	for _, iss := range []string{"http://127.0.0.1:8080", "http://[::1]:8080"} {
		if _, err := NewKeys(KeysConfig{Issuer: iss}, nil, nil, nil); !errors.Is(err, ErrWebAuthnUnavailable) {
			t.Errorf("%s: %v, want ErrWebAuthnUnavailable", iss, err)
		}
	}
	k, err := NewKeys(KeysConfig{Issuer: "https://login.example.com", RPID: "example.com"}, nil, nil, nil)
	if err != nil || k.RPID() != "example.com" {
		t.Errorf("rp id override: %v", err)
	}
	if _, err := NewKeys(KeysConfig{Issuer: "https://login.example.com", RPID: "other.com"}, nil, nil, nil); err == nil {
		t.Error("an rp id that is not a parent of the issuer's host was accepted")
	}
}

package mfa

import (
	"bytes"
	"context"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// *storage.Store must implement the interface the service declares.
var _ Store = (*storage.Store)(nil)

// clock is a settable test clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is a service on a real store with one tenant.
type fixture struct {
	st     *storage.Store
	svc    *Service
	clk    *clock
	sealer *secret.Sealer
	tenant storage.Tenant
	client storage.Client // made by the first signIn

	mu   sync.Mutex
	reqs map[string]string // user id -> the sign-in that req returns
}

// req returns one sign-in of user, the same at every call: the sign-in a test enrols in.
func (f *fixture) req(t *testing.T, user storage.User) string {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reqs == nil {
		f.reqs = map[string]string{}
	}
	if id, ok := f.reqs[user.ID]; ok {
		return id
	}
	f.reqs[user.ID] = f.signIn(t, user)
	return f.reqs[user.ID]
}

// t0 is the default test time: the first second of a time step.
var t0 = time.Unix(Step(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))*Period, 0).UTC()

func newFixture(t *testing.T, st *storage.Store) *fixture {
	t.Helper()
	sealer, err := secret.NewSealer(bytes.Repeat([]byte{0x42}, secret.MasterKeySize), "totp")
	if err != nil {
		t.Fatal(err)
	}
	rh, err := secret.NewKeyedHash(bytes.Repeat([]byte{0x42}, secret.MasterKeySize), "recovery-codes")
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock(t0)
	tenant, err := st.CreateTenant(context.Background(), storage.Tenant{Slug: "acme", Name: "Acme Corp", MFAEnabled: true})
	if err != nil {
		t.Fatalf("create tenant: %v", err)
	}
	return &fixture{st: st, clk: clk, sealer: sealer, tenant: tenant,
		svc: &Service{Store: st, Sealer: sealer, RecoveryHash: rh, Now: clk.Now, Log: testLogger(t)}}
}

func newSQLiteFixture(t *testing.T) *fixture {
	return newFixture(t, storagetest.NewSQLite(t))
}

func (f *fixture) user(t *testing.T, email string) storage.User {
	t.Helper()
	u, err := f.st.CreateUser(context.Background(), storage.User{TenantID: f.tenant.ID, Email: email, Name: email, PasswordHash: "x"})
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	return u
}

// activate gives user an active authenticator with key, whose last accepted step is lastStep, without
// going through ConfirmEnrolment (which hashes ten recovery codes).
func (f *fixture) activate(t *testing.T, user storage.User, key []byte, lastStep int64) storage.Authenticator {
	t.Helper()
	ctx := context.Background()
	sealed, err := f.sealer.Seal(key, []byte(user.ID))
	if err != nil {
		t.Fatal(err)
	}
	p := storage.PendingEnrolment{ID: storage.NewID(), AuthRequestID: f.signIn(t, user), UserID: user.ID, TenantID: user.TenantID,
		SecretSealed: sealed, CreatedAt: f.clk.Now()}
	if err := f.st.CreatePendingEnrolment(ctx, p); err != nil {
		t.Fatalf("create pending enrolment: %v", err)
	}
	a, err := f.st.ActivateAuthenticator(ctx, storage.Activation{PendingID: p.ID, Step: lastStep, Now: f.clk.Now()})
	if err != nil {
		t.Fatalf("activate authenticator: %v", err)
	}
	return a
}

// signIn stores a new auth request of user (password proven) and returns its id: the sign-in that an
// enrolment belongs to.
func (f *fixture) signIn(t *testing.T, user storage.User) string {
	t.Helper()
	ctx := context.Background()
	if f.client.ID == "" {
		c, err := f.st.CreateClient(ctx, storage.Client{TenantID: f.tenant.ID, Name: "app", RedirectURIs: []string{"https://app.example/cb"}})
		if err != nil {
			t.Fatalf("create client: %v", err)
		}
		f.client = c
	}
	now := f.clk.Now()
	a := storage.AuthRequest{ID: storage.NewID(), TenantID: f.tenant.ID, ClientID: f.client.ID, RedirectURI: "https://app.example/cb",
		ResponseType: "code", CreatedAt: now, ExpiresAt: now.Add(time.Hour), BrowserHash: "browser", UserID: user.ID,
		Factors: []string{FactorPassword}, AuthTime: now}
	if err := f.st.CreateAuthRequest(ctx, a); err != nil {
		t.Fatalf("create auth request: %v", err)
	}
	return a.ID
}

// actions counts the audit events of the fixture's tenant by action. (Events written at one instant of
// the test clock have no stable order, so tests compare counts.)
func (f *fixture) actions(t *testing.T) map[string]int {
	t.Helper()
	evs, err := f.st.ListAudit(context.Background(), f.tenant.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, ev := range evs {
		out[ev.Action]++
	}
	return out
}

func mustCode(t *testing.T, key []byte, at time.Time) string {
	t.Helper()
	c, err := Code(key, at, Digits, Algorithm)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func randomKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, SecretSize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

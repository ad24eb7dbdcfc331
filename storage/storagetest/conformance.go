package storagetest

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/portcullis/portcullis/storage"
)

// subTest is one conformance test; each runs on a store of its own.
type subTest struct {
	name string
	run  func(t *testing.T, st *storage.Store)
}

// RunTests runs the conformance suite; open must return a fresh, migrated store for each call.
func RunTests(t *testing.T, open func(testing.TB) *storage.Store) {
	runTests(t, open, []subTest{
		{"Migrations", testMigrations},
		{"Tenants", testTenants},
		{"Users", testUsers},
		{"UpdateUser", testUpdateUser},
		{"Clients", testClients},
		{"ListItemsWithWhitespace", testListItemsWithWhitespace},
		{"Sessions", testSessions},
		{"NotFound", testNotFound},
		{"AuthRequestRoundTrip", testAuthRequestRoundTrip},
		{"BindAuthRequest", testBindAuthRequest},
		{"RecordLogin", testRecordLogin},
		{"RebindAndRecordLogin", testRebindAndRecordLogin},
		{"RecordLoginProof", testRecordLoginProof},
		{"CreateSignInSession", testCreateSignInSession},
		{"SaveAuthCode", testSaveAuthCode},
		{"ConsumeCode", testConsumeCode},
		{"Tokens", testTokens},
		{"RotateRefreshToken", testRotateRefreshToken},
		{"RevokeGrant", testRevokeGrant},
		{"CodeTokens", testCodeTokens},
		{"HotPathReads", testHotPathReads},
		{"HotPathReadsInTransaction", testHotPathReadsInTransaction},
		{"SigningKeysPerAlgorithm", testSigningKeysPerAlgorithm},
		{"MFAPolicyAudit", testMFAPolicyAudit},
		{"ListAudit", testListAudit},
		{"SigningKeys", testSigningKeys},
		{"Throttles", testThrottles},
		{"ThrottleAttempts", testThrottleAttempts},
		{"ThrottleWindow", testThrottleWindow},
		{"Authenticators", testAuthenticators},
		{"AcceptStep", testAcceptStep},
		{"ResetMFA", testResetMFA},
		{"EndSignInsInFlight", testEndSignInsInFlight},
		{"RecoveryCodes", testRecoveryCodes},
		{"Timezones", testTimezones},
		{"Sweep", testSweep},
	})
}

func runTests(t *testing.T, open func(testing.TB) *storage.Store, tests []subTest) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

// now is a time with the precision that every dialect keeps (PostgreSQL: microseconds), in UTC, so that
// records round-trip unchanged and compare with reflect.DeepEqual.
// Factors as the storage keeps them: opaque strings (package mfa names them; storagetest must not
// import mfa, whose tests use this package).
const (
	factorPassword = "pwd"
	factorOTP      = "otp"
	factorRecovery = "rec"
)

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func ptr[T any](v T) *T { return &v }

func mustTenant(t *testing.T, st *storage.Store, slug string) storage.Tenant {
	t.Helper()
	tn, err := st.CreateTenant(t.Context(), storage.Tenant{Slug: slug, Name: "Tenant " + slug, CreatedAt: now()})
	if err != nil {
		t.Fatalf("CreateTenant(%q): %v", slug, err)
	}
	return tn
}

func mustUser(t *testing.T, st *storage.Store, tenantID, email string) storage.User {
	t.Helper()
	u, err := st.CreateUser(t.Context(), storage.User{TenantID: tenantID, Email: email, Name: "User " + email,
		PasswordHash: "$argon2id$hash", CreatedAt: now()})
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", email, err)
	}
	return u
}

func mustClient(t *testing.T, st *storage.Store, tenantID, name string) storage.Client {
	t.Helper()
	c, err := st.CreateClient(t.Context(), storage.Client{TenantID: tenantID, Name: name,
		RedirectURIs: []string{"https://app.example/cb"}, Grants: []string{"authorization_code", "refresh_token"},
		CreatedAt: now()})
	if err != nil {
		t.Fatalf("CreateClient(%q): %v", name, err)
	}
	return c
}

func mustSession(t *testing.T, st *storage.Store, u storage.User, expiresAt time.Time) storage.Session {
	t.Helper()
	at := now()
	s := storage.Session{ID: storage.NewID(), TenantID: u.TenantID, UserID: u.ID, Factors: []string{factorPassword},
		AuthTime: at, CreatedAt: at, ExpiresAt: expiresAt}
	if err := st.CreateSession(t.Context(), s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return s
}

// world is a tenant with a user and a client: what most tests start from.
type world struct {
	tenant storage.Tenant
	user   storage.User
	client storage.Client
}

func newWorld(t *testing.T, st *storage.Store) world {
	t.Helper()
	tn := mustTenant(t, st, "acme")
	return world{tenant: tn, user: mustUser(t, st, tn.ID, "alice@example.com"), client: mustClient(t, st, tn.ID, "app")}
}

// authRequest returns an unsaved auth request of the world's client, valid for ten minutes.
func (w world) authRequest() storage.AuthRequest {
	at := now()
	return storage.AuthRequest{ID: storage.NewID(), TenantID: w.tenant.ID, ClientID: w.client.ID,
		RedirectURI: "https://app.example/cb", State: "state", Nonce: "nonce", Scopes: []string{"openid", "email"},
		ResponseType: "code", CodeChallenge: "challenge", CodeChallengeMethod: "S256", CreatedAt: at,
		ExpiresAt: at.Add(10 * time.Minute)}
}

func (w world) mustAuthRequest(t *testing.T, st *storage.Store) storage.AuthRequest {
	t.Helper()
	a := w.authRequest()
	if err := st.CreateAuthRequest(t.Context(), a); err != nil {
		t.Fatalf("CreateAuthRequest: %v", err)
	}
	return a
}

// mustCodeRequest stores an auth request that is bound, signed in with a password, and holds a code
// with hash codeHash valid until codeExpiresAt.
func (w world) mustCodeRequest(t *testing.T, st *storage.Store, codeHash string, codeExpiresAt time.Time) storage.AuthRequest {
	t.Helper()
	ctx := t.Context()
	a := w.mustAuthRequest(t, st)
	if err := st.BindAuthRequest(ctx, a.ID, "browser"); err != nil {
		t.Fatalf("BindAuthRequest: %v", err)
	}
	a.BrowserHash = "browser"
	if err := st.RecordLogin(ctx, a, w.user.ID, []string{factorPassword}, now(), storage.Proof{}); err != nil {
		t.Fatalf("RecordLogin: %v", err)
	}
	if err := st.SaveAuthCode(ctx, a.ID, codeHash, codeExpiresAt); err != nil {
		t.Fatalf("SaveAuthCode: %v", err)
	}
	a, err := st.AuthRequestByID(ctx, a.ID)
	if err != nil {
		t.Fatalf("AuthRequestByID: %v", err)
	}
	return a
}

// mustActiveAuthenticator enrols u with an active authenticator whose last accepted step is step.
func mustActiveAuthenticator(t *testing.T, st *storage.Store, u storage.User, step int64, codes ...storage.RecoveryCode) storage.Authenticator {
	t.Helper()
	p := mustPendingEnrolment(t, st, u, "sealed")
	got, err := st.ActivateAuthenticator(t.Context(), storage.Activation{PendingID: p.ID, Step: step, Now: now(), Codes: codes})
	if err != nil {
		t.Fatalf("ActivateAuthenticator: %v", err)
	}
	return got
}

// mustPendingEnrolment stores a new sign-in of u (its own auth request) showing the secret sealed.
func mustPendingEnrolment(t *testing.T, st *storage.Store, u storage.User, sealed string) storage.PendingEnrolment {
	t.Helper()
	cl := mustClient(t, st, u.TenantID, "enrol-"+storage.NewID())
	w := world{tenant: storage.Tenant{ID: u.TenantID}, user: u, client: cl}
	a := w.mustAuthRequest(t, st)
	p := storage.PendingEnrolment{ID: storage.NewID(), AuthRequestID: a.ID, UserID: u.ID, TenantID: u.TenantID,
		SecretSealed: []byte(sealed), CreatedAt: now()}
	if err := st.CreatePendingEnrolment(t.Context(), p); err != nil {
		t.Fatalf("CreatePendingEnrolment: %v", err)
	}
	return p
}

func tokenPair(grantID string, u storage.User, clientID string, expiresAt time.Time) (storage.AccessToken, storage.RefreshToken) {
	at := now()
	return storage.AccessToken{ID: storage.NewID(), GrantID: grantID, TenantID: u.TenantID, ClientID: clientID, Subject: u.ID,
			Scopes: []string{"openid", "offline_access"}, Audience: []string{clientID}, AMR: []string{"pwd"}, ACR: "0",
			AuthTime: at, CreatedAt: at, ExpiresAt: at.Add(time.Hour)},
		storage.RefreshToken{ID: storage.NewID(), TokenHash: storage.NewID(), GrantID: grantID, TenantID: u.TenantID,
			ClientID: clientID, Subject: u.ID, Scopes: []string{"openid", "offline_access"}, Audience: []string{clientID},
			AMR: []string{"pwd"}, ACR: "0", AuthTime: at, CreatedAt: at, ExpiresAt: expiresAt}
}

// wantErr fails the test unless err matches want (nil means no error).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: unexpected error: %v", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func wantEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

func wantTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
	if got.Location() != time.UTC {
		t.Errorf("%s: got location %v, want UTC", what, got.Location())
	}
}

func ids[T any](l []T, id func(T) string) []string {
	out := make([]string, len(l))
	for i, v := range l {
		out[i] = id(v)
	}
	return out
}

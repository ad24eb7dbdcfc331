package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/app"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
)

// testEnv is one database (a SQLite file in the test's temp dir) that commands run against.
type testEnv struct {
	vars map[string]string
	// Filled by seed: the tenant "acme", its user ada@acme.test (with a pending authenticator), a client
	// and a signing key.
	tenant, user, client, key string
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	return &testEnv{vars: map[string]string{
		"PORTCULLIS_DATABASE": filepath.Join(t.TempDir(), "p.db"),
		"PORTCULLIS_DEV":      "true",
	}}
}

func (e *testEnv) getenv(k string) string { return e.vars[k] }

// run runs the CLI in-process with stdin and returns what it wrote.
func (e *testEnv) run(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(t.Context(), args, e.getenv, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

// mustRun runs the CLI and fails the test on an error.
func (e *testEnv) mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := e.run(t, stdin, args...)
	if err != nil {
		t.Fatalf("portcullis %s: %v (stderr: %s)", strings.Join(args, " "), err, errOut)
	}
	return out
}

// withStore opens the database directly, for setting up and checking, and closes it again.
func (e *testEnv) withStore(t *testing.T, fn func(ctx context.Context, st *storage.Store)) {
	t.Helper()
	cfg, err := app.LoadConfig("", e.getenv)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	st, err := app.OpenStore(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	defer st.Close()
	fn(t.Context(), st)
}

// seed fills the database with the tenant acme, one user with a pending authenticator, a client and a key.
func (e *testEnv) seed(t *testing.T) {
	t.Helper()
	cfg, err := app.LoadConfig("", e.getenv)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	e.withStore(t, func(ctx context.Context, st *storage.Store) {
		tn, err := st.CreateTenant(ctx, storage.Tenant{Slug: "acme", Name: "Acme"})
		if err != nil {
			t.Fatalf("CreateTenant: %v", err)
		}
		u, err := st.CreateUser(ctx, storage.User{TenantID: tn.ID, Email: "ada@acme.test", Name: "Ada", Role: storage.RoleMember,
			PasswordHash: "unused", EmailVerified: true})
		if err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		cl, err := st.CreateClient(ctx, storage.Client{TenantID: tn.ID, Name: "Seed App", SecretHash: "unused",
			RedirectURIs: []string{"https://app.acme.test/cb"}, Grants: []string{"authorization_code"}})
		if err != nil {
			t.Fatalf("CreateClient: %v", err)
		}
		ar := storage.AuthRequest{ID: storage.NewID(), TenantID: tn.ID, ClientID: cl.ID, RedirectURI: "https://app.acme.test/cb",
			ResponseType: "code", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
		if err := st.CreateAuthRequest(ctx, ar); err != nil {
			t.Fatalf("CreateAuthRequest: %v", err)
		}
		if err := st.CreatePendingEnrolment(ctx, storage.PendingEnrolment{AuthRequestID: ar.ID, UserID: u.ID, TenantID: tn.ID,
			SecretSealed: []byte("sealed"), CreatedAt: time.Now()}); err != nil {
			t.Fatalf("CreatePendingEnrolment: %v", err)
		}
		keys, err := app.NewKeys(cfg, st, time.Now)
		if err != nil {
			t.Fatalf("NewKeys: %v", err)
		}
		sk, err := keys.Rotate(ctx, "RS256", 0)
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		e.tenant, e.user, e.client, e.key = tn.ID, u.ID, cl.ID, sk.ID
	})
}

// expand replaces {tenant} and {user} in args with the seeded ids.
func (e *testEnv) expand(args []string) []string {
	out := make([]string, len(args))
	r := strings.NewReplacer("{tenant}", e.tenant, "{user}", e.user)
	for i, a := range args {
		out[i] = r.Replace(a)
	}
	return out
}

// fields checks that a decoded JSON object has the wanted values (and a non-empty id when asked).
func fields(t *testing.T, got any, want map[string]any) {
	t.Helper()
	obj, ok := got.(map[string]any)
	if !ok {
		t.Fatalf("JSON is %T, want an object: %v", got, got)
	}
	for k, w := range want {
		v, present := obj[k]
		switch w := w.(type) {
		case present_:
			if !present || v == "" || v == nil {
				t.Errorf("JSON field %q = %v, want it present and non-empty", k, v)
			}
		case absent_:
			if present {
				t.Errorf("JSON field %q = %v, want it absent", k, v)
			}
		default:
			if gotJ, wantJ := mustJSON(t, v), mustJSON(t, w); !present || gotJ != wantJ {
				t.Errorf("JSON field %q = %s, want %s", k, gotJ, wantJ)
			}
		}
	}
}

type present_ struct{}
type absent_ struct{}

var (
	present = present_{}
	absent  = absent_{}
)

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// object expects a JSON object with an id and the given fields.
func object(want map[string]any) func(*testing.T, any) {
	return func(t *testing.T, got any) {
		t.Helper()
		want["id"] = present
		fields(t, got, want)
	}
}

// list expects a JSON array of n objects, the first having the given fields.
func list(n int, first map[string]any) func(*testing.T, any) {
	return func(t *testing.T, got any) {
		t.Helper()
		arr, ok := got.([]any)
		if !ok {
			t.Fatalf("JSON is %T, want an array: %v", got, got)
		}
		if len(arr) != n {
			t.Fatalf("JSON array has %d elements, want %d: %v", len(arr), n, arr)
		}
		if n > 0 {
			first["id"] = present
			fields(t, arr[0], first)
		}
	}
}

func TestCommands(t *testing.T) {
	tests := []struct {
		name     string
		fresh    bool // an empty database instead of the seeded one
		stdin    string
		args     []string
		wantText []string // substrings of the text output
		wantJSON func(*testing.T, any)
	}{
		{name: "migrate fresh", fresh: true, args: []string{"migrate"}, wantText: []string{"applied", "migration"},
			wantJSON: func(t *testing.T, got any) {
				if n, _ := got.(map[string]any)["migrations"].(float64); n < 1 {
					t.Errorf("migrations = %v, want at least 1", got)
				}
			}},
		{name: "migrate up to date", args: []string{"migrate"}, wantText: []string{"up to date"},
			wantJSON: func(t *testing.T, got any) { fields(t, got, map[string]any{"migrations": 0}) }},
		{name: "keys rotate", args: []string{"keys", "rotate"}, wantText: []string{"new signing key", "(RS256)", "stays published until"},
			wantJSON: object(map[string]any{"algorithm": "RS256", "previous_id": present, "previous_published_until": present})},
		// Each algorithm has its own active key: the first ES256 key retires no RS256 key (issue 9).
		{name: "keys rotate ES256", args: []string{"keys", "rotate", "--algorithm", "ES256", "--overlap", "2h"}, wantText: []string{"(ES256)"},
			wantJSON: object(map[string]any{"algorithm": "ES256", "previous_id": absent})},
		{name: "keys rotate first key", fresh: true, args: []string{"keys", "rotate"}, wantText: []string{"new signing key"},
			wantJSON: object(map[string]any{"algorithm": "RS256", "previous_id": absent})},
		{name: "tenant create derives slug", args: []string{"tenant", "create", "--name", "  Beta -- Org! "}, wantText: []string{"created tenant beta-org"},
			wantJSON: object(map[string]any{"slug": "beta-org", "name": "Beta -- Org!", "mfa_enabled": false})},
		{name: "tenant create with slug", args: []string{"tenant", "create", "--name", "Gamma", "--slug", "g-1"}, wantText: []string{"created tenant g-1"},
			wantJSON: object(map[string]any{"slug": "g-1", "name": "Gamma"})},
		{name: "tenant list", args: []string{"tenant", "list"}, wantText: []string{"SLUG", "acme", "disabled"},
			wantJSON: list(1, map[string]any{"slug": "acme", "name": "Acme", "mfa_enabled": false})},
		{name: "tenant set-mfa on", args: []string{"tenant", "set-mfa", "--tenant", "acme", "--enabled=true"},
			wantText: []string{"MFA for tenant acme is now enabled (was disabled)"},
			wantJSON: object(map[string]any{"slug": "acme", "mfa_enabled": true, "previous_mfa_enabled": false, "mfa_updated_by": "cli"})},
		{name: "tenant set-mfa by id", args: []string{"tenant", "set-mfa", "--tenant", "{tenant}", "--enabled"},
			wantText: []string{"now enabled"}, wantJSON: object(map[string]any{"mfa_enabled": true})},
		{name: "tenant set-mfa phishing-resistant only", args: []string{"tenant", "set-mfa", "--tenant", "acme", "--enabled=true", "--methods", "webauthn"},
			wantText: []string{"now enabled"}, wantJSON: object(map[string]any{"mfa_enabled": true, "mfa_methods": []any{"webauthn"}})},
		{name: "tenant set-mfa both methods", args: []string{"tenant", "set-mfa", "--tenant", "acme", "--enabled=true", "--methods", "webauthn,totp"},
			wantText: []string{"now enabled"}, wantJSON: object(map[string]any{"mfa_methods": []any{"totp", "webauthn"}})},
		{name: "tenant set-mfa off", args: []string{"tenant", "set-mfa", "--tenant", "acme", "--enabled=false"},
			wantText: []string{"now disabled (was disabled)"}, wantJSON: object(map[string]any{"mfa_enabled": false})},
		{name: "user create", stdin: "correct horse\n",
			args:     []string{"user", "create", "--tenant", "acme", "--email", "Bob@Acme.test", "--password-stdin", "--role", "admin", "--name", "Bob"},
			wantText: []string{"created user bob@acme.test", "admin", "tenant acme"},
			wantJSON: object(map[string]any{"email": "bob@acme.test", "name": "Bob", "role": "admin", "disabled": false,
				"email_verified": true, "mfa": "none", "password_hash": absent})},
		{name: "user create default role", stdin: "correct horse",
			args:     []string{"user", "create", "--tenant", "{tenant}", "--email", "cy@acme.test", "--password-stdin"},
			wantText: []string{"member"}, wantJSON: object(map[string]any{"role": "member"})},
		{name: "user list", args: []string{"user", "list", "--tenant", "acme"},
			wantText: []string{"EMAIL", "ada@acme.test", "member", "pending"},
			wantJSON: list(1, map[string]any{"email": "ada@acme.test", "name": "Ada", "role": "member", "disabled": false, "mfa": "pending"})},
		{name: "user reset-mfa by email", args: []string{"user", "reset-mfa", "--tenant", "acme", "--email", "ADA@acme.test"},
			wantText: []string{"reset MFA of ada@acme.test", "was pending", "tokens revoked", "enrolment code", "valid until"},
			wantJSON: object(map[string]any{"email": "ada@acme.test", "previous_mfa": "pending", "mfa": "none",
				"enrolment_code": present, "enrolment_code_expires_at": present})},
		{name: "user reset-mfa by id", args: []string{"user", "reset-mfa", "--tenant", "acme", "--user", "{user}"},
			wantText: []string{"reset MFA of ada@acme.test"}, wantJSON: object(map[string]any{"email": "ada@acme.test"})},
		{name: "user set-role", args: []string{"user", "set-role", "--tenant", "acme", "--email", "ada@acme.test", "--role", "admin"},
			wantText: []string{"ada@acme.test is now admin (was member)"}, wantJSON: object(map[string]any{"role": "admin"})},
		{name: "user disable", args: []string{"user", "disable", "--tenant", "acme", "--email", "ada@acme.test"},
			wantText: []string{"now disabled"}, wantJSON: object(map[string]any{"disabled": true})},
		{name: "user enable", args: []string{"user", "enable", "--tenant", "acme", "--user", "{user}"},
			wantText: []string{"now enabled"}, wantJSON: object(map[string]any{"disabled": false})},
		{name: "client create confidential",
			args: []string{"client", "create", "--tenant", "acme", "--name", "CRM", "--redirect-uri", "https://crm.acme.test/cb",
				"--redirect-uri", "http://127.0.0.1:8080/cb", "--post-logout-uri", "https://crm.acme.test/", "--scope", "crm.read"},
			wantText: []string{"created confidential client \"CRM\"", "secret", "shown only now"},
			wantJSON: object(map[string]any{"secret": present, "name": "CRM", "public": false, "admin": false,
				"redirect_uris":    []string{"https://crm.acme.test/cb", "http://127.0.0.1:8080/cb"},
				"post_logout_uris": []string{"https://crm.acme.test/"}, "scopes": []string{"crm.read"},
				"grants": []string{"authorization_code", "refresh_token"}, "secret_hash": absent})},
		{name: "client create public loopback",
			args:     []string{"client", "create", "--tenant", "acme", "--name", "Desk", "--public", "--redirect-uri", "http://[::1]/cb", "--redirect-uri", "http://localhost:9/cb", "--grant", "authorization_code"},
			wantText: []string{"created public client \"Desk\""},
			wantJSON: object(map[string]any{"public": true, "secret": absent, "grants": []string{"authorization_code"}})},
		{name: "client create admin service",
			args:     []string{"client", "create", "--tenant", "acme", "--name", "Provisioner", "--grant", "client_credentials", "--admin"},
			wantText: []string{"secret"},
			wantJSON: object(map[string]any{"admin": true, "secret": present, "grants": []string{"client_credentials"}, "redirect_uris": []string{}})},
		{name: "client create admin console",
			args:     []string{"client", "create", "--tenant", "acme", "--name", "Console", "--redirect-uri", "https://console.acme.test/cb", "--admin"},
			wantText: []string{"created confidential client \"Console\""},
			wantJSON: object(map[string]any{"admin": true, "secret": present, "grants": []string{"authorization_code", "refresh_token"}})},
		{name: "client create ES256",
			args:     []string{"client", "create", "--tenant", "acme", "--name", "Fast", "--redirect-uri", "https://fast.acme.test/cb", "--id-token-alg", "ES256"},
			wantText: []string{"created confidential client \"Fast\""},
			wantJSON: object(map[string]any{"id_token_signed_response_alg": "ES256"})},
		{name: "client list", args: []string{"client", "list"}, wantText: []string{"REDIRECT URIS", "Seed App", "acme", "https://app.acme.test/cb"},
			wantJSON: list(1, map[string]any{"name": "Seed App", "secret": absent, "secret_hash": absent, "tenant_id": present})},
		{name: "client list of tenant", args: []string{"client", "list", "--tenant", "acme"}, wantText: []string{"Seed App"},
			wantJSON: list(1, map[string]any{"name": "Seed App"})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, output := range []string{"text", "json"} {
				t.Run("output="+output, func(t *testing.T) {
					e := newEnv(t)
					if !tc.fresh {
						e.seed(t)
					}
					out := e.mustRun(t, tc.stdin, append(e.expand(tc.args), "--output", output)...)
					if strings.Contains(out, "$argon2id$") {
						t.Errorf("output shows a password hash:\n%s", out)
					}
					if output == "text" {
						for _, w := range tc.wantText {
							if !strings.Contains(out, w) {
								t.Errorf("output lacks %q:\n%s", w, out)
							}
						}
						return
					}
					var got any
					if err := json.Unmarshal([]byte(out), &got); err != nil {
						t.Fatalf("output is not JSON: %v\n%s", err, out)
					}
					tc.wantJSON(t, got)
				})
			}
		})
	}
}

// TestPasswordStdin checks that exactly one line is read and its line ending dropped.
func TestPasswordStdin(t *testing.T) {
	tests := []struct {
		name, stdin, want string
	}{
		{"newline", "pass word 1\n", "pass word 1"},
		{"crlf", "pass word 1\r\n", "pass word 1"},
		{"no newline", "pass word 1", "pass word 1"},
		{"second line ignored", "pass word 1\nsomething else\n", "pass word 1"},
		{"trailing spaces kept", "pass word 1  \n", "pass word 1  "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.seed(t)
			e.mustRun(t, tc.stdin, "user", "create", "--tenant", "acme", "--email", "bob@acme.test", "--password-stdin")
			e.withStore(t, func(ctx context.Context, st *storage.Store) {
				u, err := st.UserByEmail(ctx, e.tenant, "bob@acme.test")
				if err != nil {
					t.Fatalf("UserByEmail: %v", err)
				}
				if ok, err := secret.VerifyPassword(u.PasswordHash, tc.want); err != nil || !ok {
					t.Errorf("stored password does not match %q (ok=%v, err=%v)", tc.want, ok, err)
				}
				if !u.EmailVerified {
					t.Error("EmailVerified = false, want true")
				}
			})
		})
	}
}

func TestReadLineStopsAtNewline(t *testing.T) {
	r := strings.NewReader("first\r\nsecond\n")
	got, err := readLine(r)
	if err != nil || got != "first" {
		t.Fatalf("readLine = %q, %v; want \"first\"", got, err)
	}
	rest, _ := io.ReadAll(r)
	if string(rest) != "second\n" {
		t.Errorf("readLine consumed past the line: rest = %q", rest)
	}
}

// counts is what a rejected command must leave unchanged.
type counts struct{ tenants, users, clients, audit, keys int }

func (e *testEnv) counts(t *testing.T) counts {
	t.Helper()
	var c counts
	e.withStore(t, func(ctx context.Context, st *storage.Store) {
		ts, err := st.ListTenants(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c.tenants = len(ts)
		for _, tn := range ts {
			us, err := st.ListUsers(ctx, tn.ID, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			c.users += len(us)
			ev, err := st.ListAudit(ctx, tn.ID, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			c.audit += len(ev)
		}
		cls, err := st.ListClients(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		c.clients = len(cls)
		ks, err := st.SigningKeys(ctx, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		c.keys = len(ks)
	})
	return c
}

func TestRejects(t *testing.T) {
	const pw = "long enough\n"
	tests := []struct {
		name    string
		stdin   string
		args    []string
		wantErr string // substring of the error
		wantIs  error  // when set, errors.Is must hold
	}{
		{"unknown tenant user create", pw, []string{"user", "create", "--tenant", "nope", "--email", "x@acme.test", "--password-stdin"},
			`tenant "nope" not found`, storage.ErrNotFound},
		{"unknown tenant set-mfa", "", []string{"tenant", "set-mfa", "--tenant", "nope", "--enabled=true"}, `tenant "nope" not found`, storage.ErrNotFound},
		{"unknown mfa method", "", []string{"tenant", "set-mfa", "--tenant", "acme", "--enabled=true", "--methods", "sms"}, "unknown second-factor method", nil},
		{"unknown tenant client create", "", []string{"client", "create", "--tenant", "nope", "--name", "x", "--redirect-uri", "https://x.test/cb"},
			`tenant "nope" not found`, storage.ErrNotFound},
		{"bad id token alg", "", []string{"client", "create", "--tenant", "acme", "--name", "x", "--redirect-uri", "https://x.test/cb", "--id-token-alg", "HS256"},
			"id_token_signed_response_alg", nil},
		{"unknown tenant user list", "", []string{"user", "list", "--tenant", "nope"}, `tenant "nope" not found`, storage.ErrNotFound},
		{"unknown tenant client list", "", []string{"client", "list", "--tenant", "nope"}, `tenant "nope" not found`, storage.ErrNotFound},
		{"unknown user reset-mfa", "", []string{"user", "reset-mfa", "--tenant", "acme", "--email", "nobody@acme.test"},
			`user "nobody@acme.test" not found in tenant "acme"`, storage.ErrNotFound},
		{"user of another tenant", "", []string{"user", "reset-mfa", "--tenant", "other", "--user", "{user}"}, "not found in tenant", storage.ErrNotFound},
		{"bad email", pw, []string{"user", "create", "--tenant", "acme", "--email", "not-an-email", "--password-stdin"}, "not a valid email address", nil},
		{"email with display name", pw, []string{"user", "create", "--tenant", "acme", "--email", "Bob <bob@acme.test>", "--password-stdin"},
			"not a valid email address", nil},
		{"duplicate email", pw, []string{"user", "create", "--tenant", "acme", "--email", "Ada@acme.test", "--password-stdin"},
			"already exists", storage.ErrAlreadyExists},
		{"short password", "short12\n", []string{"user", "create", "--tenant", "acme", "--email", "b@acme.test", "--password-stdin"}, "too short", nil},
		{"empty password", "\n", []string{"user", "create", "--tenant", "acme", "--email", "b@acme.test", "--password-stdin"}, "empty", nil},
		{"no stdin", "", []string{"user", "create", "--tenant", "acme", "--email", "b@acme.test", "--password-stdin"}, "empty", nil},
		{"long password", strings.Repeat("x", 1025) + "\n", []string{"user", "create", "--tenant", "acme", "--email", "b@acme.test", "--password-stdin"},
			"too long", nil},
		{"bad role", pw, []string{"user", "create", "--tenant", "acme", "--email", "b@acme.test", "--password-stdin", "--role", "root"}, "--role", nil},
		{"missing password-stdin", pw, []string{"user", "create", "--tenant", "acme", "--email", "b@acme.test"}, "password-stdin", nil},
		{"missing email", pw, []string{"user", "create", "--tenant", "acme", "--password-stdin"}, `"email"`, nil},
		{"missing enabled", "", []string{"tenant", "set-mfa", "--tenant", "acme"}, `"enabled"`, nil},
		{"missing name", "", []string{"tenant", "create", "--slug", "x"}, `"name"`, nil},
		{"enabled as separate arg", "", []string{"tenant", "set-mfa", "--tenant", "acme", "--enabled", "false"}, "unknown command", nil},
		{"duplicate slug", "", []string{"tenant", "create", "--name", "Acme Again", "--slug", "acme"},
			`a tenant with slug "acme" already exists`, storage.ErrAlreadyExists},
		{"duplicate derived slug", "", []string{"tenant", "create", "--name", "ACME"}, "already exists", storage.ErrAlreadyExists},
		{"slug with dash at end", "", []string{"tenant", "create", "--name", "x", "--slug", "bad-"}, "must not start or end with a dash", nil},
		{"slug upper case", "", []string{"tenant", "create", "--name", "x", "--slug", "Bad"}, "lower-case", nil},
		{"slug too long", "", []string{"tenant", "create", "--name", "x", "--slug", strings.Repeat("a", 64)}, "1 to 63", nil},
		{"name without slug material", "", []string{"tenant", "create", "--name", "!!!"}, "pass --slug", nil},
		{"http redirect", "", []string{"client", "create", "--tenant", "acme", "--name", "x", "--redirect-uri", "http://app.example/cb"}, "must use https", nil},
		{"http post-logout", "", []string{"client", "create", "--tenant", "acme", "--name", "x", "--redirect-uri", "https://app.example/cb",
			"--post-logout-uri", "http://app.example/"}, "must use https", nil},
		{"relative redirect", "", []string{"client", "create", "--tenant", "acme", "--name", "x", "--redirect-uri", "/cb"}, "absolute", nil},
		{"redirect with fragment", "", []string{"client", "create", "--tenant", "acme", "--name", "x", "--redirect-uri", "https://app.example/cb#x"}, "fragment", nil},
		{"two redirects in one", "", []string{"client", "create", "--tenant", "acme", "--name", "x", "--redirect-uri",
			"https://app.example/cb http://evil.example/steal"}, "whitespace", nil},
		{"post-logout with a tab", "", []string{"client", "create", "--tenant", "acme", "--name", "x", "--redirect-uri", "https://app.example/cb",
			"--post-logout-uri", "https://app.example/\thttp://evil.example/"}, "whitespace", nil},
		{"two scopes in one", "", []string{"client", "create", "--tenant", "acme", "--name", "x", "--redirect-uri", "https://app.example/cb",
			"--scope", "crm.read\u00a0portcullis:admin"}, "scope token", nil},
		{"custom scheme redirect", "", []string{"client", "create", "--tenant", "acme", "--name", "x", "--redirect-uri", "myapp://cb"}, "must use https", nil},
		{"no redirect for code", "", []string{"client", "create", "--tenant", "acme", "--name", "x"}, "--redirect-uri", nil},
		{"public client credentials", "", []string{"client", "create", "--tenant", "acme", "--name", "x", "--public", "--grant", "client_credentials"},
			"public client cannot use the client_credentials grant", nil},
		{"public admin", "", []string{"client", "create", "--tenant", "acme", "--name", "x", "--public", "--admin", "--redirect-uri", "https://a.test/cb"},
			"public client cannot be an --admin", nil},
		{"unknown grant", "", []string{"client", "create", "--tenant", "acme", "--name", "x", "--grant", "password"}, "--grant", nil},
		{"refresh without code", "", []string{"client", "create", "--tenant", "acme", "--name", "x", "--grant", "refresh_token", "--grant", "client_credentials"},
			"needs the authorization_code grant", nil},
		{"bad algorithm", "", []string{"keys", "rotate", "--algorithm", "HS256"}, "unsupported signing algorithm", nil},
		{"negative overlap", "", []string{"keys", "rotate", "--overlap", "-1h"}, "negative", nil},
		{"bad output", "", []string{"tenant", "create", "--name", "Zeta", "--output", "yaml"}, "--output must be text or json", nil},
		{"unknown command", "", []string{"tenant", "delete"}, "unknown command", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.seed(t)
			e.withStore(t, func(ctx context.Context, st *storage.Store) {
				if _, err := st.CreateTenant(ctx, storage.Tenant{Slug: "other", Name: "Other"}); err != nil {
					t.Fatal(err)
				}
			})
			before := e.counts(t)
			out, _, err := e.run(t, tc.stdin, e.expand(tc.args)...)
			if err == nil {
				t.Fatalf("no error; output:\n%s", out)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not contain %q", err, tc.wantErr)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %q is not %v", err, tc.wantIs)
			}
			if out != "" {
				t.Errorf("wrote to stdout on error:\n%s", out)
			}
			if after := e.counts(t); after != before {
				t.Errorf("a rejected command changed the database: before %+v, after %+v", before, after)
			}
		})
	}
}

func TestSetMFAWritesAudit(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	e.mustRun(t, "", "tenant", "set-mfa", "--tenant", "acme", "--enabled=true")
	e.withStore(t, func(ctx context.Context, st *storage.Store) {
		tn, err := st.TenantByID(ctx, e.tenant)
		if err != nil {
			t.Fatal(err)
		}
		if !tn.MFAEnabled || tn.MFAUpdatedBy != "cli" {
			t.Errorf("tenant MFAEnabled=%v MFAUpdatedBy=%q, want true and cli", tn.MFAEnabled, tn.MFAUpdatedBy)
		}
		evs, err := st.ListAudit(ctx, e.tenant, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 {
			t.Fatalf("audit events = %+v, want one", evs)
		}
		ev := evs[0]
		if ev.Action != "mfa.policy_changed" || ev.ActorID != "cli" || ev.Address != "cli" || ev.Detail["new"] != true || ev.Detail["old"] != false {
			t.Errorf("audit event = %+v", ev)
		}
	})
}

func TestResetMFA(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	var token string
	e.withStore(t, func(ctx context.Context, st *storage.Store) {
		now := time.Now()
		at := storage.AccessToken{ID: storage.NewID(), GrantID: "g1", TenantID: e.tenant, ClientID: e.client, Subject: e.user,
			Scopes: []string{"openid"}, Audience: []string{e.client}, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := st.CreateTokens(ctx, at, nil); err != nil {
			t.Fatalf("CreateTokens: %v", err)
		}
		token = at.ID
	})
	e.mustRun(t, "", "user", "reset-mfa", "--tenant", "acme", "--email", "ada@acme.test")
	e.withStore(t, func(ctx context.Context, st *storage.Store) {
		if _, err := st.AuthenticatorByUser(ctx, e.user); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("AuthenticatorByUser after reset: err = %v, want ErrNotFound", err)
		}
		at, err := st.AccessTokenByID(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		if at.RevokedAt == nil {
			t.Error("the user's access token was not revoked")
		}
		evs, err := st.ListAudit(ctx, e.tenant, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || evs[0].Action != "mfa.reset" || evs[0].ActorID != "cli" || evs[0].TargetID != e.user ||
			evs[0].Address != "cli" || evs[0].TenantID != e.tenant {
			t.Errorf("audit events = %+v, want one mfa.reset by cli on the user", evs)
		}
	})
}

func TestKeysRotate(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	start := time.Now()
	out := e.mustRun(t, "", "keys", "rotate", "--output", "json")
	end := time.Now()
	var res rotateResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.PreviousID != e.key {
		t.Errorf("previous_id = %q, want the seeded key %q", res.PreviousID, e.key)
	}
	// Default overlap: the larger of id_token_ttl (1h) and access_token_ttl (15m), plus 10m.
	const overlap = 70 * time.Minute
	e.withStore(t, func(ctx context.Context, st *storage.Store) {
		keys, err := st.SigningKeys(ctx, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 2 {
			t.Fatalf("published keys = %d, want 2 (new and previous)", len(keys))
		}
		if keys[0].ID != res.ID || keys[0].RetiredAt != nil {
			t.Errorf("signing key = %s (retired %v), want %s", keys[0].ID, keys[0].RetiredAt, res.ID)
		}
		old := keys[1]
		if old.ID != e.key || old.RetiredAt == nil || old.ExpiresAt == nil {
			t.Fatalf("previous key = %+v, want %s retired with an expiry", old, e.key)
		}
		if exp := *old.ExpiresAt; exp.Before(start.Add(overlap).Add(-time.Second)) || exp.After(end.Add(overlap).Add(time.Second)) {
			t.Errorf("previous key published until %s, want about now+%s", exp, overlap)
		}
		if res.PreviousPublishedUntil == nil || !res.PreviousPublishedUntil.Equal(*old.ExpiresAt) {
			t.Errorf("printed previous_published_until %v, stored %v", res.PreviousPublishedUntil, old.ExpiresAt)
		}
		// The server can unseal the new key: the CLI sealed it with the server's key.
		cfg, err := app.LoadConfig("", e.getenv)
		if err != nil {
			t.Fatal(err)
		}
		k, err := app.NewKeys(cfg, st, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		sk, err := k.SigningKey(ctx)
		if err != nil {
			t.Fatalf("SigningKey: %v", err)
		}
		if sk.ID() != res.ID {
			t.Errorf("server signs with %s, want %s", sk.ID(), res.ID)
		}
	})
}

func TestClientSecretVerifies(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	out := e.mustRun(t, "", "client", "create", "--tenant", "acme", "--name", "CRM", "--redirect-uri", "https://crm.acme.test/cb", "-o", "json")
	var got clientJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	e.withStore(t, func(ctx context.Context, st *storage.Store) {
		cl, err := st.ClientByID(ctx, got.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !secret.VerifyClientSecret(cl.SecretHash, got.Secret) {
			t.Errorf("printed secret does not match the stored hash")
		}
	})
	list := e.mustRun(t, "", "client", "list", "-o", "json")
	if strings.Contains(list, got.Secret) || strings.Contains(list, "sha256:") {
		t.Errorf("client list shows a secret or hash:\n%s", list)
	}
}

func TestSlugify(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Acme Corp", "acme-corp"},
		{"  --Acme__Corp--  ", "acme-corp"},
		{"Café 42", "caf-42"},
		{strings.Repeat("ab-", 30), strings.Repeat("ab-", 21)[:62]},
		{"!!!", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := slugify(tc.in); got != tc.want {
				t.Errorf("slugify(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if tc.want != "" {
				if err := validateSlug(slugify(tc.in)); err != nil {
					t.Errorf("derived slug invalid: %v", err)
				}
			}
		})
	}
}

// TestServeInvalidConfig checks that serve refuses a bad configuration and names every problem. No
// server starts: validation fails first.
func TestServeInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"env", map[string]string{"PORTCULLIS_LOG_LEVEL": "loud", "PORTCULLIS_SIGNING_ALGORITHM": "HS1"}, []string{"serve"},
			[]string{"log_level", "loud", "signing_algorithm", "HS1"}},
		{"default command", map[string]string{"PORTCULLIS_LOG_LEVEL": "loud", "PORTCULLIS_SIGNING_ALGORITHM": "HS1"}, []string{},
			[]string{"log_level", "signing_algorithm"}},
		{"unparsable env", map[string]string{"PORTCULLIS_SESSION_TTL": "soon", "PORTCULLIS_DEV": "maybe"}, []string{"serve"},
			[]string{"PORTCULLIS_SESSION_TTL", "PORTCULLIS_DEV"}},
		{"flags", nil, []string{"serve", "--log-level", "loud", "--issuer", "ftp://x"}, []string{"log_level", "issuer"}},
		{"dev mode on every interface", nil, []string{"serve", "--listen", ":8080"}, []string{"listen", `":8080"`, "loopback", "dev mode"}},
		{"dev mode with a public issuer", map[string]string{"PORTCULLIS_ISSUER": "https://id.example.com"}, []string{},
			[]string{"issuer", "loopback", "dev mode"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			for k, v := range tc.env {
				e.vars[k] = v
			}
			_, _, err := e.run(t, "", tc.args...)
			if err == nil {
				t.Fatal("serve accepted an invalid configuration")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestLastAdminGuard: the CLI keeps the same guard as the admin API: the tenant's last active admin
// can be neither disabled nor demoted, and nothing is written when it refuses.
func TestLastAdminGuard(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	e.mustRun(t, "", "user", "set-role", "--tenant", "acme", "--email", "ada@acme.test", "--role", "admin")
	before := e.counts(t)
	for _, args := range [][]string{
		{"user", "disable", "--tenant", "acme", "--email", "ada@acme.test"},
		{"user", "set-role", "--tenant", "acme", "--user", "{user}", "--role", "member"},
	} {
		out, _, err := e.run(t, "", e.expand(args)...)
		if err == nil || !strings.Contains(err.Error(), "at least one active admin") || out != "" {
			t.Errorf("%v: err = %v, out %q; want the last-admin refusal", args, err, out)
		}
	}
	if after := e.counts(t); after != before {
		t.Errorf("a refused change was written: before %+v, after %+v", before, after)
	}
	e.withStore(t, func(ctx context.Context, st *storage.Store) {
		if u, _ := st.UserByID(ctx, e.user); u.Role != storage.RoleAdmin || u.Disabled {
			t.Errorf("ada after the refusals: %+v", u)
		}
	})
}

// TestServerGCPercent checks that the server collects garbage less often than the runtime's default
// unless GOGC says otherwise.
func TestServerGCPercent(t *testing.T) {
	for _, tc := range []struct {
		gogc string
		want int
		set  bool
	}{{"", 400, true}, {"100", 0, false}, {"off", 0, false}} {
		got, set := serverGCPercent(func(k string) string {
			if k == "GOGC" {
				return tc.gogc
			}
			return ""
		})
		if got != tc.want || set != tc.set {
			t.Errorf("GOGC=%q: got (%d, %v), want (%d, %v)", tc.gogc, got, set, tc.want, tc.set)
		}
	}
}

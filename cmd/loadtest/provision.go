package main

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/portcullis/portcullis/app"
	"github.com/portcullis/portcullis/clientreg"
	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
)

const redirectURI = "http://127.0.0.1:1/callback" // nothing listens: the tool reads the code from the redirect

// env is what the measures share: the provider's endpoints, the provisioned clients and users.
type env struct {
	o         options
	transport *http.Transport
	client    *http.Client // no redirects followed
	store     *storage.Store
	disc      discovery
	verifier  *gooidc.IDTokenVerifier // for the password tenant's client
	mfaVerify *gooidc.IDTokenVerifier

	password      string
	pwClient      clientCreds
	esClient      clientCreds // in the password tenant, registered for ES256
	esVerify      *gooidc.IDTokenVerifier
	mfaClient     clientCreds
	pwUsers       []string
	totp          *totpPool
	enrolMu       sync.Mutex
	enrolUsers    []string
	enrolUsersCap int
}

type clientCreds struct{ id, secret string }

type discovery struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	UserinfoEndpoint      string `json:"userinfo_endpoint"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
}

func newTransport(conc int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 4 * conc
	t.MaxIdleConnsPerHost = 4 * conc
	return t
}

func fetchDiscovery(ctx context.Context, c *http.Client, issuer string) (discovery, error) {
	var d discovery
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", nil)
	if err != nil {
		return d, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return d, fmt.Errorf("discovery of %s: %w", issuer, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return d, fmt.Errorf("discovery of %s: status %d", issuer, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		return d, fmt.Errorf("discovery of %s: %w", issuer, err)
	}
	return d, nil
}

// provision opens the server's database (same configuration as the server) and creates a tenant
// without MFA (password sign-ins), a tenant with MFA (TOTP sign-ins and enrolments), a confidential
// client in each, and the users, all with one random password; TOTP users are enrolled with secrets
// this tool keeps.
func provision(ctx context.Context, o options, getenv func(string) string, log *slog.Logger, progress io.Writer) (*env, error) {
	cfg, err := app.LoadConfig(o.configPath, getenv)
	if err != nil {
		return nil, err
	}
	st, err := app.OpenStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	e := &env{o: o, store: st, transport: newTransport(o.concurrency)}
	ok := false
	defer func() {
		if !ok {
			st.Close()
		}
	}()
	e.client = &http.Client{Transport: e.transport, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if e.disc, err = fetchDiscovery(ctx, e.client, o.target); err != nil {
		return nil, err
	}
	master, err := app.MasterKey(cfg)
	if err != nil {
		return nil, err
	}
	sealer, err := secret.NewSealer(master, "totp")
	if err != nil {
		return nil, err
	}
	rh, err := secret.NewKeyedHash(master, "recovery-codes")
	if err != nil {
		return nil, err
	}
	svc := &mfa.Service{Store: st, Sealer: sealer, RecoveryHash: rh}

	run := secret.RandomToken(6)
	e.password = secret.RandomToken(18)
	hash, err := secret.HashPassword(e.password)
	if err != nil {
		return nil, err
	}
	client := func(tenantID, alg string) (clientCreds, error) {
		sec := secret.RandomToken(32)
		c, err := st.CreateClient(ctx, storage.Client{TenantID: tenantID, Name: "loadtest", RedirectURIs: []string{redirectURI},
			Grants: []string{clientreg.GrantAuthorizationCode, clientreg.GrantRefreshToken}, SecretHash: secret.HashClientSecret(sec),
			IDTokenAlg: alg})
		return clientCreds{c.ID, sec}, err
	}
	tenant := func(name string, mfaOn bool) (storage.Tenant, clientCreds, error) {
		t, err := st.CreateTenant(ctx, storage.Tenant{Slug: "load-" + strings.ToLower(run) + "-" + name, Name: "Load test " + run + " " + name})
		if err != nil {
			return t, clientCreds{}, err
		}
		if mfaOn {
			if _, _, err := st.SetMFAPolicy(ctx, t.ID, true, storage.AuditEvent{ActorID: "loadtest", Action: "mfa.policy_changed"}); err != nil {
				return t, clientCreds{}, err
			}
		}
		c, err := client(t.ID, "")
		return t, c, err
	}
	user := func(tenantID, email string) (storage.User, error) {
		return st.CreateUser(ctx, storage.User{TenantID: tenantID, Email: email, Name: email, PasswordHash: hash,
			Role: storage.RoleMember, EmailVerified: true})
	}
	pwTenant, pwClient, err := tenant("pwd", false)
	if err != nil {
		return nil, fmt.Errorf("tenant: %w", err)
	}
	mfaTenant, mfaClient, err := tenant("mfa", true)
	if err != nil {
		return nil, fmt.Errorf("tenant: %w", err)
	}
	e.pwClient, e.mfaClient = pwClient, mfaClient
	if e.esClient, err = client(pwTenant.ID, "ES256"); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	for i := range max(o.concurrency, 8) {
		email := fmt.Sprintf("pwd%d@%s.load.test", i, strings.ToLower(run))
		if _, err := user(pwTenant.ID, email); err != nil {
			return nil, fmt.Errorf("user: %w", err)
		}
		e.pwUsers = append(e.pwUsers, email)
	}
	if want(o, "totp") {
		fmt.Fprintf(progress, "provisioning %d TOTP users…\n", o.users)
		e.totp = &totpPool{}
		for i := range o.users {
			var prev time.Time // confirm with the previous step's code: the current one stays free
			email := fmt.Sprintf("totp%d@%s.load.test", i, strings.ToLower(run))
			u, err := user(mfaTenant.ID, email)
			if err != nil {
				return nil, fmt.Errorf("user: %w", err)
			}
			// An enrolment belongs to a sign-in: a provisioning auth request of the tool's own.
			now := time.Now()
			ar := storage.AuthRequest{ID: storage.NewID(), TenantID: mfaTenant.ID, ClientID: mfaClient.id, RedirectURI: redirectURI,
				ResponseType: "code", CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute), UserID: u.ID}
			if err := st.CreateAuthRequest(ctx, ar); err != nil {
				return nil, fmt.Errorf("enrol: %w", err)
			}
			en, err := svc.Enrolment(ctx, u, ar.ID, "loadtest", mfa.Meta{})
			if err != nil {
				return nil, fmt.Errorf("enrol: %w", err)
			}
			key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(en.Secret))
			if err != nil {
				return nil, fmt.Errorf("enrol: secret: %w", err)
			}
			prev = time.Now().Add(-mfa.Period * time.Second)
			code, err := totpCode(key, prev)
			if err != nil {
				return nil, err
			}
			if _, err := svc.ConfirmEnrolment(ctx, u, ar.ID, code, mfa.Meta{}); err != nil {
				return nil, fmt.Errorf("enrol %s: confirm: %w", email, err)
			}
			e.totp.users = append(e.totp.users, &totpUser{email: email, key: key, last: mfa.Step(prev)})
		}
	}
	if want(o, "enrol") {
		n := int(80 * (o.duration.Seconds()*float64(o.rounds) + o.warmup.Seconds()))
		if o.count > 0 {
			n = min(n, o.count*o.rounds+int(80*o.warmup.Seconds()))
		}
		fmt.Fprintf(progress, "provisioning %d users to enrol…\n", n)
		for i := range n {
			email := fmt.Sprintf("enrol%d@%s.load.test", i, strings.ToLower(run))
			if _, err := user(mfaTenant.ID, email); err != nil {
				return nil, fmt.Errorf("user: %w", err)
			}
			e.enrolUsers = append(e.enrolUsers, email)
		}
	}
	pctx := gooidc.ClientContext(ctx, &http.Client{Transport: e.transport, Timeout: 30 * time.Second})
	p, err := gooidc.NewProvider(pctx, e.disc.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc provider: %w", err)
	}
	e.verifier = p.Verifier(&gooidc.Config{ClientID: pwClient.id})
	e.mfaVerify = p.Verifier(&gooidc.Config{ClientID: mfaClient.id})
	e.esVerify = p.Verifier(&gooidc.Config{ClientID: e.esClient.id})
	ok = true
	return e, nil
}

func want(o options, m string) bool {
	for _, x := range o.measures {
		if x == m {
			return true
		}
	}
	return false
}

func (e *env) close() { e.store.Close() }

func totpCode(key []byte, at time.Time) (string, error) {
	return mfa.Code(key, at, 6, mfaAlgorithm)
}

// totpUser is an enrolled user; last is the last time step used (a code works once, and only a newer one after it).
type totpUser struct {
	email string
	key   []byte
	last  int64
}

// totpPool hands out users whose current code has not been used yet: one sign-in per user per 30 s step.
type totpPool struct {
	mu    sync.Mutex
	users []*totpUser
	next  int
}

func (p *totpPool) take(ctx context.Context) (*totpUser, int64, error) {
	for {
		now := time.Now()
		step := mfa.Step(now)
		p.mu.Lock()
		for range p.users {
			u := p.users[p.next]
			p.next = (p.next + 1) % len(p.users)
			if u.last < step {
				u.last = step
				p.mu.Unlock()
				return u, step, nil
			}
		}
		p.mu.Unlock()
		// Every user signed in during this step: wait for the next one (provision more with -totp-users).
		wait := time.Unix((step+1)*mfa.Period, 0).Sub(now)
		select {
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-time.After(wait):
		}
	}
}

func (e *env) takeEnrolUser() (string, error) {
	e.enrolMu.Lock()
	defer e.enrolMu.Unlock()
	if len(e.enrolUsers) == 0 {
		return "", fmt.Errorf("no user left to enrol")
	}
	u := e.enrolUsers[0]
	e.enrolUsers = e.enrolUsers[1:]
	return u, nil
}

func randomString() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
}

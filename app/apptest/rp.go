package apptest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/pquerna/otp"
	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/storage"
)

// RP is a relying party built from golang.org/x/oauth2 and github.com/coreos/go-oidc/v3, the way an
// app would integrate: discovery, PKCE, ID token verification against the JWKS.
type RP struct {
	T        testing.TB
	Env      *Env
	OAuth    oauth2.Config
	Provider *gooidc.Provider
	Verifier *gooidc.IDTokenVerifier
}

// RP returns a relying party for a registered client.
func (e *Env) RP(c storage.Client, secret string, scopes ...string) *RP {
	e.T.Helper()
	p, err := gooidc.NewProvider(context.Background(), e.URL)
	if err != nil {
		e.T.Fatalf("discovery: %v", err)
	}
	if len(scopes) == 0 {
		scopes = []string{gooidc.ScopeOpenID, "profile", "email"}
	}
	return &RP{T: e.T, Env: e, Provider: p, Verifier: p.Verifier(&gooidc.Config{ClientID: c.ID}),
		OAuth: oauth2.Config{ClientID: c.ID, ClientSecret: secret, Endpoint: p.Endpoint(), RedirectURL: c.RedirectURIs[0], Scopes: scopes}}
}

// Attempt is one authorization request in flight.
type Attempt struct {
	State, Nonce, Verifier string
	URL                    string
}

// Start builds an authorization URL with state, nonce and PKCE S256.
func (rp *RP) Start(opts ...oauth2.AuthCodeOption) *Attempt {
	a := &Attempt{State: rnd(), Nonce: rnd(), Verifier: oauth2.GenerateVerifier()}
	opts = append(opts, gooidc.Nonce(a.Nonce), oauth2.S256ChallengeOption(a.Verifier))
	a.URL = rp.OAuth.AuthCodeURL(a.State, opts...)
	return a
}

// Code extracts the code from the redirect to the app, checking state; it fails the test if the app
// got an error instead.
func (a *Attempt) Code(t testing.TB, p *Page) string {
	t.Helper()
	if p.Redirect == nil {
		t.Fatalf("expected a redirect to the app, got %d at %s:\n%s", p.Status, p.URL, p.Body)
	}
	q := p.Redirect.Query()
	if e := q.Get("error"); e != "" {
		t.Fatalf("app got error %s: %s", e, q.Get("error_description"))
	}
	if q.Get("state") != a.State {
		t.Fatalf("state %q, want %q", q.Get("state"), a.State)
	}
	return q.Get("code")
}

// AppError returns the OAuth error the app received ("" if none or no redirect).
func AppError(p *Page) string {
	if p.Redirect == nil {
		return ""
	}
	return p.Redirect.Query().Get("error")
}

// Exchange redeems the code.
func (rp *RP) Exchange(code string, a *Attempt) (*oauth2.Token, error) {
	return rp.OAuth.Exchange(context.Background(), code, oauth2.VerifierOption(a.Verifier))
}

// Claims are the ID token's claims that tests look at.
type Claims struct {
	Subject       string   `json:"sub"`
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	Name          string   `json:"name"`
	AMR           []string `json:"amr"`
	ACR           string   `json:"acr"`
	AuthTime      int64    `json:"auth_time"`
	Nonce         string   `json:"nonce"`
	Tenant        string   `json:"tenant"`
}

// IDToken verifies the ID token of tok (signature against the JWKS, issuer, audience, expiry, nonce).
func (rp *RP) IDToken(tok *oauth2.Token, nonce string) Claims {
	rp.T.Helper()
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		rp.T.Fatal("no id_token in the token response")
	}
	idt, err := rp.Verifier.Verify(context.Background(), raw)
	if err != nil {
		rp.T.Fatalf("verify id token: %v", err)
	}
	var c Claims
	if err := idt.Claims(&c); err != nil {
		rp.T.Fatal(err)
	}
	if nonce != "" && c.Nonce != nonce {
		rp.T.Fatalf("nonce %q, want %q", c.Nonce, nonce)
	}
	return c
}

// SignIn runs a password-only sign-in in b and returns the code.
func (rp *RP) SignIn(b *Browser, email, password string, opts ...oauth2.AuthCodeOption) (*Attempt, string) {
	rp.T.Helper()
	a := rp.Start(opts...)
	p := b.Get(a.URL)
	p = b.Submit(p, "/login/password", map[string]string{"email": email, "password": password})
	return a, a.Code(rp.T, p)
}

var otpauthRe = regexp.MustCompile(`otpauth://totp/[^"'<> ]+`)

// EnrolmentSecret reads the TOTP secret from an enrolment page's otpauth:// link, as a person's phone
// would from the QR code.
func EnrolmentSecret(t testing.TB, p *Page) []byte {
	t.Helper()
	m := otpauthRe.FindString(strings.ReplaceAll(p.Body, "&amp;", "&"))
	if m == "" {
		t.Fatalf("no otpauth URI on the page (%d %s):\n%s", p.Status, p.URL, p.Body)
	}
	u, err := url.Parse(m)
	if err != nil {
		t.Fatal(err)
	}
	key, err := base32NoPad(u.Query().Get("secret"))
	if err != nil {
		t.Fatalf("secret: %v", err)
	}
	return key
}

// Code computes the 6-digit TOTP code for secret at t.
func Code(tb testing.TB, secret []byte, at time.Time) string {
	tb.Helper()
	c, err := mfa.Code(secret, at, 6, otp.AlgorithmSHA1)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func rnd() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

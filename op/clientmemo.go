package op

import (
	"context"

	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
)

// A token, introspection or revocation request reads its client several times (our client
// authentication check, the library's, then the client itself); /authorize twice (the library's
// validation, then CreateAuthRequest); the callback reads it with the auth request (AuthRequestByID),
// then the library asks for it; the refresh grant reads it with the token (readRefreshGrant). The first
// read is kept for the rest of that one request, never beyond it: a deleted client or a changed secret
// counts from the next request.
type clientMemoKey struct{}

type clientMemo struct {
	client storage.Client
	ok     bool

	refresh     storage.RefreshGrant // the refresh grant's read, taken by TokenRequestByRefreshToken
	refreshHash string               // the hash it was read by; "" when there is none

	legacyKey string // the client, legacy secret hash and presented secret (hashed) last verified
	legacyOK  bool   // ... and the verdict
}

func withClientMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, clientMemoKey{}, &clientMemo{})
}

// keepClient keeps a client this request read along with something else, for its later reads.
func keepClient(ctx context.Context, c storage.Client) {
	if m, _ := ctx.Value(clientMemoKey{}).(*clientMemo); m != nil {
		m.client, m.ok = c, true
	}
}

// requestClient is the client this request read, if it read one.
func requestClient(ctx context.Context) (storage.Client, bool) {
	m, _ := ctx.Value(clientMemoKey{}).(*clientMemo)
	if m == nil || !m.ok {
		return storage.Client{}, false
	}
	return m.client, true
}

// clientByID reads a client, once per request.
func (s *Storage) clientByID(ctx context.Context, id string) (storage.Client, error) {
	m, _ := ctx.Value(clientMemoKey{}).(*clientMemo)
	if m != nil && m.ok && m.client.ID == id {
		return m.client, nil
	}
	c, err := s.Store.ClientByID(ctx, id)
	if err == nil && m != nil {
		m.client, m.ok = c, true
	}
	return c, err
}

// readRefreshGrant reads, at the start of a refresh grant, the presented refresh token with its user,
// tenant and client in one query, and keeps it for this request: the client for client authentication
// and the library's reads of it, the rest for TokenRequestByRefreshToken, which decides on it as before
// (spent, revoked, expired, disabled user, the tenant's policy now). It only saves the separate reads:
// an unknown token or a fault is left for those.
func (s *Storage) readRefreshGrant(ctx context.Context, token string) {
	m, _ := ctx.Value(clientMemoKey{}).(*clientMemo)
	if m == nil || token == "" {
		return
	}
	hash := secret.TokenHash(token)
	g, err := s.Store.RefreshTokenGrant(ctx, hash)
	if err != nil {
		return
	}
	m.refresh, m.refreshHash = g, hash
	m.client, m.ok = g.Client, true
}

// takeRefreshGrant is the read readRefreshGrant kept for the token of this hash, once.
func takeRefreshGrant(ctx context.Context, hash string) (storage.RefreshGrant, bool) {
	m, _ := ctx.Value(clientMemoKey{}).(*clientMemo)
	if m == nil || m.refreshHash == "" || m.refreshHash != hash {
		return storage.RefreshGrant{}, false
	}
	g := m.refresh
	m.refresh, m.refreshHash = storage.RefreshGrant{}, ""
	return g, true
}

// legacyVerdict is the verdict of this request's earlier verification of sec against c's legacy
// secret hash, if it made one: an argon2id run is not repeated within one request.
func legacyVerdict(ctx context.Context, c storage.Client, sec string) (ok, seen bool) {
	m, _ := ctx.Value(clientMemoKey{}).(*clientMemo)
	if m == nil || m.legacyKey == "" || m.legacyKey != legacyKey(c, sec) {
		return false, false
	}
	return m.legacyOK, true
}

func keepLegacyVerdict(ctx context.Context, c storage.Client, sec string, ok bool) {
	if m, _ := ctx.Value(clientMemoKey{}).(*clientMemo); m != nil {
		m.legacyKey, m.legacyOK = legacyKey(c, sec), ok
	}
}

func legacyKey(c storage.Client, sec string) string {
	return c.ID + "\x00" + c.SecretHash + "\x00" + secret.TokenHash(sec)
}

package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/portcullis/portcullis/storage"
)

// testHotPathReads: the one-query reads of userinfo and the refresh grant return the same token as the
// plain reads, the user without its password hash, and see a revocation, a disabled user and a policy
// change at once (nothing is cached).
func testHotPathReads(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	at, rt := tokenPair("grant-hot", w.user, w.client.ID, now().Add(24*time.Hour))
	wantErr(t, "CreateTokens", st.CreateTokens(ctx, at, &rt), nil)

	for round := 0; round < 2; round++ { // twice: the second time from a prepared statement on SQLite
		gotAT, u, err := st.AccessTokenWithUser(ctx, at.ID)
		wantErr(t, "AccessTokenWithUser", err, nil)
		wantEqual(t, "token", []any{gotAT.ID, gotAT.TenantID, gotAT.ClientID, gotAT.Subject, gotAT.Scopes, gotAT.RevokedAt},
			[]any{at.ID, at.TenantID, at.ClientID, at.Subject, at.Scopes, (*time.Time)(nil)})
		wantTime(t, "token expiry", gotAT.ExpiresAt, at.ExpiresAt)
		wantEqual(t, "user", u, storage.User{ID: w.user.ID, TenantID: w.user.TenantID, Email: w.user.Email,
			Name: w.user.Name, EmailVerified: w.user.EmailVerified})

		g, err := st.RefreshTokenGrant(ctx, rt.TokenHash)
		wantErr(t, "RefreshTokenGrant", err, nil)
		wantEqual(t, "refresh token", g.Token, rt)
		wantEqual(t, "refresh user", g.User, u)
		wantEqual(t, "tenant", g.Tenant, storage.Tenant{ID: w.tenant.ID, MFAMethods: storage.DefaultMFAMethods()})
		c, err := st.ClientByID(ctx, w.client.ID)
		wantErr(t, "ClientByID", err, nil)
		wantEqual(t, "refresh client", g.Client, c)
	}

	_, _, err := st.AccessTokenWithUser(ctx, "nope")
	wantErr(t, "AccessTokenWithUser of an unknown token", err, storage.ErrNotFound)
	_, err = st.RefreshTokenGrant(ctx, "nope")
	wantErr(t, "RefreshTokenGrant of an unknown token", err, storage.ErrNotFound)

	svc := storage.AccessToken{ID: storage.NewID(), GrantID: "grant-svc", TenantID: w.tenant.ID, ClientID: w.client.ID,
		Subject: w.client.ID, CreatedAt: now(), ExpiresAt: now().Add(time.Hour)}
	wantErr(t, "CreateTokens (service)", st.CreateTokens(ctx, svc, nil), nil)
	_, _, err = st.AccessTokenWithUser(ctx, svc.ID)
	wantErr(t, "AccessTokenWithUser of a service token", err, storage.ErrNotFound)

	wantErr(t, "RevokeAccessToken", st.RevokeAccessToken(ctx, at.ID, w.client.ID, now()), nil)
	_, err = st.UpdateUser(ctx, w.user.ID, func(u *storage.User) error { u.Disabled = true; return nil })
	wantErr(t, "UpdateUser", err, nil)
	_, _, err = st.SetMFAPolicy(ctx, w.tenant.ID, true, storage.AuditEvent{ActorID: w.user.ID, Action: "mfa_policy.set"})
	wantErr(t, "SetMFAPolicy", err, nil)
	gotAT, u, err := st.AccessTokenWithUser(ctx, at.ID)
	wantErr(t, "AccessTokenWithUser after changes", err, nil)
	wantEqual(t, "revoked and disabled", []bool{gotAT.RevokedAt != nil, u.Disabled}, []bool{true, true})
	g, err := st.RefreshTokenGrant(ctx, rt.TokenHash)
	wantErr(t, "RefreshTokenGrant after changes", err, nil)
	wantEqual(t, "disabled and policy", []bool{g.User.Disabled, g.Tenant.MFAEnabled}, []bool{true, true})
}

// testSigningKeysPerAlgorithm: a new key retires only the active key of its own algorithm, so the RS256
// and the ES256 key rotate independently and both stay active.
func testSigningKeysPerAlgorithm(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	t0 := now()
	key := func(id, alg string, created time.Time) storage.SigningKey {
		return storage.SigningKey{ID: id, Algorithm: alg, PrivateSealed: []byte("sealed-" + id),
			PublicPEM: []byte("-----BEGIN PUBLIC KEY-----\n" + id), CreatedAt: created}
	}
	rs1, es1, rs2 := key("rs1", "RS256", t0), key("es1", "ES256", t0.Add(time.Minute)), key("rs2", "RS256", t0.Add(time.Hour))
	for _, k := range []storage.SigningKey{rs1, es1, rs2} {
		wantErr(t, "AddSigningKey "+k.ID, st.AddSigningKey(ctx, k, k.CreatedAt.Add(30*time.Minute)), nil)
	}
	keys, err := st.SigningKeys(ctx, t0.Add(time.Hour))
	wantErr(t, "SigningKeys", err, nil)
	active := map[string]string{}
	for _, k := range keys {
		if k.RetiredAt == nil {
			active[k.ID] = k.Algorithm
		}
	}
	wantEqual(t, "active keys", active, map[string]string{"rs2": "RS256", "es1": "ES256"})
	wantEqual(t, "published keys", ids(keys, func(k storage.SigningKey) string { return k.ID }), []string{"rs2", "es1", "rs1"})
}

// testHotPathReadsInTransaction: inside a transaction the hot reads see its own writes (on SQLite they
// run on the transaction, not on the read-only connections), and a transaction that rolled back left
// nothing for them to see.
func testHotPathReadsInTransaction(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	at, rt := tokenPair("grant-tx", w.user, w.client.ID, now().Add(time.Hour))
	rollback := errors.New("roll back")
	err := st.InTx(ctx, func(tx *storage.Store) error {
		wantErr(t, "CreateTokens in the transaction", tx.CreateTokens(ctx, at, &rt), nil)
		_, _, err := tx.AccessTokenWithUser(ctx, at.ID)
		wantErr(t, "AccessTokenWithUser in the transaction", err, nil)
		_, err = tx.RefreshTokenGrant(ctx, rt.TokenHash)
		wantErr(t, "RefreshTokenGrant in the transaction", err, nil)
		_, err = tx.ClientByID(ctx, w.client.ID)
		wantErr(t, "ClientByID in the transaction", err, nil)
		return rollback
	})
	wantErr(t, "InTx", err, rollback)
	_, _, err = st.AccessTokenWithUser(ctx, at.ID)
	wantErr(t, "AccessTokenWithUser after the rollback", err, storage.ErrNotFound)
	_, err = st.RefreshTokenGrant(ctx, rt.TokenHash)
	wantErr(t, "RefreshTokenGrant after the rollback", err, storage.ErrNotFound)
}

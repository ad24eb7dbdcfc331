package app_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/portcullis/portcullis/clientreg"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// A client whose secret was hashed with argon2id, before the current scheme, still authenticates; its
// first successful use replaces the hash with the current scheme's (so its later requests, and wrong
// secrets for it, cost no argon2id), and a wrong secret is refused before and after.
func TestLegacyClientSecretUpgraded(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		sec := secret.RandomToken(32)
		legacy, err := secret.HashPassword(sec)
		if err != nil {
			t.Fatal(err)
		}
		c, err := st.CreateClient(t.Context(), storage.Client{TenantID: o.ten.ID, Name: "Old App", SecretHash: legacy,
			RedirectURIs: []string{"http://127.0.0.1:1/callback"}, PostLogoutURIs: []string{"http://127.0.0.1:1/signed-out"},
			Grants: []string{clientreg.GrantAuthorizationCode, clientreg.GrantRefreshToken}})
		if err != nil {
			t.Fatal(err)
		}
		storedHash := func() string {
			t.Helper()
			got, err := st.ClientByID(t.Context(), c.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got.SecretHash
		}
		if r := postForm(t, o.env.URL, introspectPath, url.Values{"token": {"x"}}, c.ID, "wrong"); r.Status != http.StatusUnauthorized {
			t.Errorf("wrong secret for the legacy hash: %d %s", r.Status, r.Body)
		}
		if storedHash() != legacy {
			t.Fatal("a wrong secret changed the hash")
		}

		rp := o.env.RP(c, sec, "openid", "offline_access")
		_, tok := o.signIn(t, rp, o.env.NewBrowser())
		if got := storedHash(); got != secret.HashClientSecret(sec) {
			t.Fatalf("after the first use the hash is %.20q..., want the current scheme's", got)
		}
		if r := postForm(t, o.env.URL, tokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}},
			c.ID, sec); r.Status != http.StatusOK {
			t.Errorf("refresh with the upgraded hash: %d %s", r.Status, r.Body)
		}
		if m := introspect(t, o.env, c.ID, sec, tok.AccessToken); !active(m) {
			t.Errorf("introspection with the upgraded hash: %v", m)
		}
		if r := postForm(t, o.env.URL, introspectPath, url.Values{"token": {"x"}}, c.ID, "wrong"); r.Status != http.StatusUnauthorized {
			t.Errorf("wrong secret after the upgrade: %d %s", r.Status, r.Body)
		}
	})
}

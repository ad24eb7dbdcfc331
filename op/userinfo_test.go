package op

import (
	"encoding/json"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/portcullis/portcullis/storage"
)

// The userinfo endpoint encodes its claims itself (the library's encoding of oidc.UserInfo marshals
// three times); its answer must stay byte for byte what the library made of userinfoOf, which also fills
// the ID token, for every scope and user.
func TestUserinfoClaimsAsTheLibraryEncodesThem(t *testing.T) {
	users := []storage.User{
		{ID: "u1", TenantID: "t1", Email: "ann@example.com", EmailVerified: true, Name: "Ann"},
		{ID: "u2", TenantID: "t1", Email: "bob@example.com"}, // unverified, no name
	}
	scopeSets := [][]string{{"openid"}, {"openid", "email"}, {"openid", "profile"},
		{"openid", "email", "profile", "offline_access"}}
	for _, u := range users {
		for _, scopes := range scopeSets {
			ui := new(oidc.UserInfo)
			if err := userinfoOf(ui, u, scopes); err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(ui)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(userinfoClaimsOf(u, scopes))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("%s %v: %s, the library encodes %s", u.ID, scopes, got, want)
			}
		}
	}
}

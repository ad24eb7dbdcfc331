package storagetest

import (
	"testing"
	"time"

	"github.com/portcullis/portcullis/storage"
)

// testListItemsWithWhitespace: lists are stored with their items joined by spaces, so an item that
// holds whitespace would come back as several items (a redirect URI "https://app.example/cb
// http://evil.example/steal" as two, the second never validated). Every write of a list refuses such
// an item with ErrInvalid and stores nothing, whichever path the list came by.
func testListItemsWithWhitespace(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	for _, item := range []struct{ name, bad string }{
		{"space", "https://app.example/cb http://evil.example/steal"},
		{"tab", "a\tb"},
		{"line feed", "a\nb"},
		{"carriage return", "a\rb"},
		{"no-break space", "a\u00a0b"},
		{"line separator", "a\u2028b"},
	} {
		bad := item.bad
		t.Run(item.name+"/client", func(t *testing.T) {
			for field, edit := range map[string]func(*storage.Client){
				"redirect_uris":             func(c *storage.Client) { c.RedirectURIs = append(c.RedirectURIs, bad) },
				"post_logout_redirect_uris": func(c *storage.Client) { c.PostLogoutURIs = []string{bad} },
				"grants":                    func(c *storage.Client) { c.Grants = []string{bad} },
				"scopes":                    func(c *storage.Client) { c.Scopes = []string{"crm.read", bad} },
			} {
				c := storage.Client{ID: storage.NewID(), TenantID: w.tenant.ID, Name: "smuggler", RedirectURIs: []string{"https://app.example/cb"},
					Grants: []string{"authorization_code"}, CreatedAt: now()}
				edit(&c)
				_, err := st.CreateClient(ctx, c)
				wantErr(t, "CreateClient with "+field+" "+bad, err, storage.ErrInvalid)
				_, err = st.ClientByID(ctx, c.ID)
				wantErr(t, "ClientByID of the refused client", err, storage.ErrNotFound)
			}
		})
		t.Run(item.name+"/auth request", func(t *testing.T) {
			for field, edit := range map[string]func(*storage.AuthRequest){
				"scopes":     func(a *storage.AuthRequest) { a.Scopes = []string{bad} },
				"prompt":     func(a *storage.AuthRequest) { a.Prompt = []string{bad} },
				"acr_values": func(a *storage.AuthRequest) { a.ACRValues = []string{bad} },
				"ui_locales": func(a *storage.AuthRequest) { a.UILocales = []string{bad} },
				"factors":    func(a *storage.AuthRequest) { a.Factors = []string{bad} },
			} {
				a := w.authRequest()
				edit(&a)
				wantErr(t, "CreateAuthRequest with "+field, st.CreateAuthRequest(ctx, a), storage.ErrInvalid)
				_, err := st.AuthRequestByID(ctx, a.ID)
				wantErr(t, "AuthRequestByID of the refused request", err, storage.ErrNotFound)
			}
			a := w.mustAuthRequest(t, st)
			wantErr(t, "BindAuthRequest", st.BindAuthRequest(ctx, a.ID, "browser"), nil)
			a.BrowserHash = "browser"
			wantErr(t, "RecordLogin", st.RecordLogin(ctx, a, w.user.ID, []string{factorPassword, bad}, now(), storage.Proof{}), storage.ErrInvalid)
			wantErr(t, "RebindAndRecordLogin", st.RebindAndRecordLogin(ctx, a, "browser-2", w.user.ID, []string{bad}, now(), storage.Proof{}), storage.ErrInvalid)
			got, err := st.AuthRequestByID(ctx, a.ID)
			wantErr(t, "AuthRequestByID", err, nil)
			if got.UserID != "" || len(got.Factors) != 0 || got.BrowserHash != "browser" {
				t.Errorf("a refused login was recorded: %+v", got)
			}
		})
		t.Run(item.name+"/session", func(t *testing.T) {
			s := storage.Session{ID: storage.NewID(), TenantID: w.tenant.ID, UserID: w.user.ID, Factors: []string{bad},
				AuthTime: now(), CreatedAt: now(), ExpiresAt: now().Add(time.Hour)}
			wantErr(t, "CreateSession", st.CreateSession(ctx, s), storage.ErrInvalid)
			_, err := st.SessionByID(ctx, s.ID)
			wantErr(t, "SessionByID of the refused session", err, storage.ErrNotFound)
		})
		t.Run(item.name+"/tokens", func(t *testing.T) {
			at, rt := tokenPair("grant-"+storage.NewID(), w.user, w.client.ID, now().Add(time.Hour))
			at.Audience = []string{w.client.ID, bad}
			wantErr(t, "CreateTokens with a bad access token", st.CreateTokens(ctx, at, &rt), storage.ErrInvalid)
			_, err := st.RefreshTokenByHash(ctx, rt.TokenHash)
			wantErr(t, "RefreshTokenByHash of the refused pair", err, storage.ErrNotFound)
			wantErr(t, "CreateTokens access token alone", st.CreateTokens(ctx, at, nil), storage.ErrInvalid)
			_, err = st.AccessTokenByID(ctx, at.ID)
			wantErr(t, "AccessTokenByID of the refused token", err, storage.ErrNotFound)

			code := storage.NewID()
			a := w.mustCodeRequest(t, st, code, now().Add(time.Minute))
			_, err = st.ConsumeCode(ctx, code, now())
			wantErr(t, "ConsumeCode", err, nil)
			at, rt = tokenPair(a.ID, w.user, w.client.ID, now().Add(time.Hour))
			rt.AMR = []string{"pwd", bad}
			wantErr(t, "CreateCodeTokens with a bad refresh token", st.CreateCodeTokens(ctx, a.ID, at, &rt), storage.ErrInvalid)
			_, err = st.AccessTokenByID(ctx, at.ID)
			wantErr(t, "AccessTokenByID of the refused code tokens", err, storage.ErrNotFound)
			at.Scopes = []string{bad}
			wantErr(t, "CreateCodeTokens access token alone", st.CreateCodeTokens(ctx, a.ID, at, nil), storage.ErrInvalid)
			_, err = st.AccessTokenByID(ctx, at.ID)
			wantErr(t, "AccessTokenByID of the refused code token", err, storage.ErrNotFound)

			at, rt = tokenPair("grant-"+storage.NewID(), w.user, w.client.ID, now().Add(time.Hour))
			wantErr(t, "CreateTokens", st.CreateTokens(ctx, at, &rt), nil)
			at2, rt2 := tokenPair(at.GrantID, w.user, w.client.ID, now().Add(time.Hour))
			rt2.Scopes = []string{bad}
			wantErr(t, "RotateRefreshToken with a bad successor", st.RotateRefreshToken(ctx, rt.TokenHash, now(), at2, rt2), storage.ErrInvalid)
			got, err := st.RefreshTokenByHash(ctx, rt.TokenHash)
			wantErr(t, "RefreshTokenByHash", err, nil)
			if got.UsedAt != nil {
				t.Error("the refused rotation spent the old refresh token")
			}
		})
	}
}

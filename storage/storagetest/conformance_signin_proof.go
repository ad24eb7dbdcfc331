package storagetest

import (
	"testing"
	"time"

	"github.com/portcullis/portcullis/storage"
)

// A sign-in step records its login on condition that what it verified is still so (storage.Proof), and
// a sign-in's session is stored on condition that its auth request still records it
// (CreateSignInSession): a password reset, an MFA reset, a removed key, a replaced app, a disabled or
// deleted user between the check and the write refuses the write.

const factorKey = "hwk"

// boundRequest stores an auth request of the world's client bound to a browser of its own, naming
// user (none for "") with factors.
func (w world) boundRequest(t *testing.T, st *storage.Store, user string, factors []string) storage.AuthRequest {
	t.Helper()
	ctx := t.Context()
	a := w.mustAuthRequest(t, st)
	a.BrowserHash = "browser-" + a.ID
	wantErr(t, "BindAuthRequest", st.BindAuthRequest(ctx, a.ID, a.BrowserHash), nil)
	if user != "" {
		wantErr(t, "RecordLogin", st.RecordLogin(ctx, a, user, factors, now(), storage.Proof{}), nil)
		a.UserID, a.Factors = user, factors
	}
	return a
}

func mustKey(t *testing.T, st *storage.Store, u storage.User) storage.WebAuthnCredential {
	t.Helper()
	c, err := st.CreateCredential(t.Context(), storage.WebAuthnCredential{CredentialID: []byte(storage.NewID()), UserID: u.ID,
		TenantID: u.TenantID, PublicKey: []byte("pk"), Name: "key", CreatedAt: now()})
	wantErr(t, "CreateCredential", err, nil)
	return c
}

// testRecordLoginProof: a step's record is refused once what it verified changed: the password (or
// the user disabled or deleted), the authenticator app (replaced), the key (removed), the carried-over
// session (ended); and it is taken while that still stands.
func testRecordLoginProof(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	pwd := []string{factorPassword}
	setHash := func(u storage.User, hash string) {
		t.Helper()
		_, err := st.UpdateUser(ctx, u.ID, func(x *storage.User) error { x.PasswordHash = hash; return nil })
		wantErr(t, "UpdateUser", err, nil)
	}
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, u storage.User) // nil: nothing changed
		want   error
	}{
		{"password still the user's", nil, nil},
		{"password changed", func(t *testing.T, u storage.User) { setHash(u, "$argon2id$new") }, storage.ErrConflict},
		{"user disabled", func(t *testing.T, u storage.User) {
			_, err := st.UpdateUser(ctx, u.ID, func(x *storage.User) error { x.Disabled = true; return nil })
			wantErr(t, "UpdateUser", err, nil)
		}, storage.ErrConflict},
		{"user deleted", func(t *testing.T, u storage.User) { wantErr(t, "DeleteUser", st.DeleteUser(ctx, u.ID, now()), nil) },
			storage.ErrConflict},
	} {
		t.Run("password/"+tc.name, func(t *testing.T) {
			u := mustUser(t, st, w.tenant.ID, storage.NewID()+"@example.com")
			a := w.boundRequest(t, st, "", nil)
			other := w.boundRequest(t, st, "", nil) // another sign-in of the same browser
			wantErr(t, "RebindBrowser", st.RebindBrowser(ctx, other.BrowserHash, a.BrowserHash), nil)
			if tc.change != nil {
				tc.change(t, u)
			}
			err := st.RebindAndRecordLogin(ctx, a, "next-"+a.ID, u.ID, pwd, now(), storage.Proof{PasswordHash: u.PasswordHash})
			wantErr(t, "RebindAndRecordLogin with the hash verified", err, tc.want)
			got, err := st.AuthRequestByID(ctx, a.ID)
			wantErr(t, "AuthRequestByID", err, nil)
			if recorded := got.UserID == u.ID; recorded != (tc.want == nil) {
				t.Errorf("request names the user: %v, want %v", recorded, tc.want == nil)
			}
			moved, err := st.AuthRequestByID(ctx, other.ID)
			wantErr(t, "AuthRequestByID", err, nil)
			wantEqual(t, "the browser's other sign-in moved to the new binding, whatever the outcome", moved.BrowserHash, "next-"+a.ID)
		})
	}

	t.Run("naming a disabled user", func(t *testing.T) {
		u := mustUser(t, st, w.tenant.ID, storage.NewID()+"@example.com")
		_, err := st.UpdateUser(ctx, u.ID, func(x *storage.User) error { x.Disabled = true; return nil })
		wantErr(t, "UpdateUser", err, nil)
		a := w.boundRequest(t, st, "", nil)
		wantErr(t, "RecordLogin of a disabled user", st.RecordLogin(ctx, a, u.ID, pwd, now(), storage.Proof{}), storage.ErrConflict)
	})

	t.Run("authenticator app replaced", func(t *testing.T) {
		u := mustUser(t, st, w.tenant.ID, storage.NewID()+"@example.com")
		old := mustActiveAuthenticator(t, st, u, 1)
		stale := w.boundRequest(t, st, u.ID, pwd) // at the code step: the password alone, not ended by the replacement
		live := w.boundRequest(t, st, u.ID, pwd)
		account := mustSession(t, st, u, now().Add(time.Hour)) // the account page that replaces the app
		p := storage.PendingEnrolment{ID: storage.NewID(), SessionID: account.ID, UserID: u.ID, TenantID: u.TenantID,
			SecretSealed: []byte("new-secret"), CreatedAt: now()}
		wantErr(t, "CreatePendingEnrolment", st.CreatePendingEnrolment(ctx, p), nil)
		app, err := st.ActivateAuthenticator(ctx, storage.Activation{PendingID: p.ID, Step: 2, Now: now(), Replaces: old.ID,
			EndSessionsWith: []string{factorOTP, factorRecovery}, KeepSession: account.ID})
		wantErr(t, "ActivateAuthenticator replacing the app", err, nil)
		both := []string{factorPassword, factorOTP}
		wantErr(t, "RecordLogin of a code of the replaced app",
			st.RecordLogin(ctx, stale, u.ID, both, now(), storage.Proof{AuthenticatorID: old.ID}), storage.ErrConflict)
		wantErr(t, "RecordLogin of a code of the new app",
			st.RecordLogin(ctx, live, u.ID, both, now(), storage.Proof{AuthenticatorID: app.ID}), nil)
	})

	t.Run("key removed", func(t *testing.T) {
		u := mustUser(t, st, w.tenant.ID, storage.NewID()+"@example.com")
		removed, kept := mustKey(t, st, u), mustKey(t, st, u)
		stale := w.boundRequest(t, st, u.ID, pwd) // at the key step: the password alone, not ended by the removal
		live := w.boundRequest(t, st, u.ID, pwd)
		wantErr(t, "DeleteCredential", st.DeleteCredential(ctx, u.ID, removed.ID, factorKey, factorKey,
			storage.AuditEvent{TenantID: u.TenantID, Action: "mfa.key_removed", CreatedAt: now()}), nil)
		withKey := []string{factorPassword, factorKey}
		wantErr(t, "RebindAndRecordLogin of the removed key",
			st.RebindAndRecordLogin(ctx, stale, "next-"+stale.ID, u.ID, withKey, now(), storage.Proof{CredentialID: removed.ID}), storage.ErrConflict)
		wantErr(t, "RebindAndRecordLogin of another user's key",
			st.RebindAndRecordLogin(ctx, live, "next-"+live.ID, w.user.ID, withKey, now(), storage.Proof{CredentialID: kept.ID}), storage.ErrConflict)
		wantErr(t, "RebindAndRecordLogin of the kept key", // refused above: still under its binding
			st.RebindAndRecordLogin(ctx, live, "again-"+live.ID, u.ID, withKey, now(), storage.Proof{CredentialID: kept.ID}), nil)
	})

	t.Run("carried-over session ended", func(t *testing.T) {
		u := mustUser(t, st, w.tenant.ID, storage.NewID()+"@example.com")
		s := mustSession(t, st, u, now().Add(time.Hour))
		live, stale := w.boundRequest(t, st, "", nil), w.boundRequest(t, st, "", nil)
		wantErr(t, "RecordLogin carrying a live session over", st.RecordLogin(ctx, live, u.ID, s.Factors, s.AuthTime,
			storage.Proof{SessionID: s.ID}), nil)
		wantErr(t, "DeleteSession", st.DeleteSession(ctx, s.ID), nil)
		wantErr(t, "RecordLogin carrying an ended session over", st.RecordLogin(ctx, stale, u.ID, s.Factors, s.AuthTime,
			storage.Proof{SessionID: s.ID}), storage.ErrConflict)
	})
}

// testCreateSignInSession: a sign-in's session is stored only while its auth request exists, names
// that user with exactly those factors and has no code redeemed; otherwise nothing is stored.
func testCreateSignInSession(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	pwd := []string{factorPassword}
	session := func(u storage.User, factors []string) storage.Session {
		at := now()
		return storage.Session{ID: storage.NewID(), TenantID: u.TenantID, UserID: u.ID, Factors: factors, AuthTime: at,
			CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
	}
	for _, tc := range []struct {
		name    string
		factors []string                                                         // the session's
		change  func(t *testing.T, u storage.User, a storage.AuthRequest) string // the request to name
		want    error
	}{
		{"as recorded", pwd, nil, nil},
		{"other factors", []string{factorPassword, factorOTP}, nil, storage.ErrConflict},
		{"another user", pwd, func(t *testing.T, _ storage.User, a storage.AuthRequest) string {
			u := mustUser(t, st, w.tenant.ID, storage.NewID()+"@example.com")
			wantErr(t, "RecordLogin of another user", st.RecordLogin(ctx, a, u.ID, pwd, now(), storage.Proof{}), nil)
			return a.ID
		}, storage.ErrConflict},
		{"unknown request", pwd, func(*testing.T, storage.User, storage.AuthRequest) string { return storage.NewID() }, storage.ErrConflict},
		{"password reset", pwd, func(t *testing.T, u storage.User, a storage.AuthRequest) string {
			wantErr(t, "DeleteUserSessions", st.DeleteUserSessions(ctx, u.ID), nil)
			return a.ID
		}, storage.ErrConflict},
		{"MFA reset", pwd, func(t *testing.T, u storage.User, a storage.AuthRequest) string {
			wantErr(t, "ResetMFA", st.ResetMFA(ctx, u.ID, nil, storage.AuditEvent{TenantID: u.TenantID, Action: "mfa.reset", CreatedAt: now()}), nil)
			return a.ID
		}, storage.ErrConflict},
		{"user disabled", pwd, func(t *testing.T, u storage.User, a storage.AuthRequest) string {
			_, err := st.UpdateUser(ctx, u.ID, func(x *storage.User) error { x.Disabled = true; return nil })
			wantErr(t, "UpdateUser", err, nil)
			return a.ID
		}, storage.ErrConflict},
		{"user deleted", pwd, func(t *testing.T, u storage.User, a storage.AuthRequest) string {
			wantErr(t, "DeleteUser", st.DeleteUser(ctx, u.ID, now()), nil)
			return a.ID
		}, storage.ErrConflict},
		{"code redeemed", pwd, func(t *testing.T, _ storage.User, a storage.AuthRequest) string {
			wantErr(t, "SaveAuthCode", st.SaveAuthCode(ctx, a.ID, "code-"+a.ID, now().Add(time.Minute)), nil)
			_, err := st.ConsumeCode(ctx, "code-"+a.ID, now())
			wantErr(t, "ConsumeCode", err, nil)
			return a.ID
		}, storage.ErrConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := mustUser(t, st, w.tenant.ID, storage.NewID()+"@example.com")
			a := w.boundRequest(t, st, u.ID, pwd)
			id := a.ID
			if tc.change != nil {
				id = tc.change(t, u, a)
			}
			s := session(u, tc.factors)
			wantErr(t, "CreateSignInSession", st.CreateSignInSession(ctx, id, s), tc.want)
			_, err := st.SessionByID(ctx, s.ID)
			if tc.want == nil {
				wantErr(t, "SessionByID", err, nil)
				wantErr(t, "CreateSignInSession with a duplicate id", st.CreateSignInSession(ctx, id, s), storage.ErrAlreadyExists)
			} else {
				wantErr(t, "SessionByID of a refused session", err, storage.ErrNotFound)
			}
		})
	}
}

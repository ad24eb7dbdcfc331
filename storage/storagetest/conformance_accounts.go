package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/portcullis/portcullis/storage"
)

func testMigrations(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	n, err := st.Migrate(ctx)
	wantErr(t, "Migrate again", err, nil)
	if n != 0 {
		t.Errorf("Migrate on a migrated store ran %d migrations, want 0", n)
	}
	pending, err := st.MigrationsPending(ctx)
	wantErr(t, "MigrationsPending", err, nil)
	if pending {
		t.Error("MigrationsPending = true after Migrate")
	}
	wantErr(t, "Ping", st.Ping(ctx), nil)
}

func testTenants(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	base := now()
	acme, err := st.CreateTenant(ctx, storage.Tenant{Slug: "Acme", Name: "Acme Ltd", CreatedAt: base})
	wantErr(t, "CreateTenant", err, nil)
	if acme.ID == "" || acme.Slug != "acme" {
		t.Fatalf("CreateTenant = %+v, want an id and the slug in lower case", acme)
	}
	globex, err := st.CreateTenant(ctx, storage.Tenant{ID: "globex-id", Slug: "globex", Name: "Globex", CreatedAt: base.Add(time.Second)})
	wantErr(t, "CreateTenant with id", err, nil)

	_, err = st.CreateTenant(ctx, storage.Tenant{Slug: "ACME", Name: "again", CreatedAt: base})
	wantErr(t, "CreateTenant with a duplicate slug", err, storage.ErrAlreadyExists)
	_, err = st.CreateTenant(ctx, storage.Tenant{ID: "globex-id", Slug: "other", Name: "again", CreatedAt: base})
	wantErr(t, "CreateTenant with a duplicate id", err, storage.ErrAlreadyExists)

	got, err := st.TenantByID(ctx, acme.ID)
	wantErr(t, "TenantByID", err, nil)
	wantEqual(t, "TenantByID", got, acme)

	for _, tc := range []struct {
		name, ref string
		want      storage.Tenant
	}{
		{"by id", acme.ID, acme},
		{"by slug", "acme", acme},
		{"by slug in upper case", "ACME", acme},
		{"by explicit id", "globex-id", globex},
		{"by other slug", "Globex", globex},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := st.TenantByRef(ctx, tc.ref)
			wantErr(t, "TenantByRef", err, nil)
			wantEqual(t, "TenantByRef", got, tc.want)
		})
	}

	list, err := st.ListTenants(ctx)
	wantErr(t, "ListTenants", err, nil)
	wantEqual(t, "ListTenants (oldest first)", list, []storage.Tenant{acme, globex})
	n, err := st.CountTenants(ctx)
	wantErr(t, "CountTenants", err, nil)
	if n != 2 {
		t.Errorf("CountTenants = %d, want 2", n)
	}
}

func testUsers(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	acme, globex := mustTenant(t, st, "acme"), mustTenant(t, st, "globex")
	created := now()
	alice, err := st.CreateUser(ctx, storage.User{TenantID: acme.ID, Email: "  Alice@Example.COM ", Name: "Alice",
		PasswordHash: "hash", EmailVerified: true, CreatedAt: created})
	wantErr(t, "CreateUser", err, nil)
	want := storage.User{ID: alice.ID, TenantID: acme.ID, Email: "alice@example.com", Name: "Alice", PasswordHash: "hash",
		Role: storage.RoleMember, EmailVerified: true, CreatedAt: created, UpdatedAt: created}
	wantEqual(t, "CreateUser", alice, want)

	for _, tc := range []struct {
		name    string
		user    storage.User
		wantErr error
	}{
		{"same email other case", storage.User{TenantID: acme.ID, Email: "ALICE@example.com", PasswordHash: "h"}, storage.ErrAlreadyExists},
		{"same email other tenant", storage.User{TenantID: globex.ID, Email: "alice@example.com", PasswordHash: "h"}, nil},
		{"same id", storage.User{ID: alice.ID, TenantID: acme.ID, Email: "x@example.com", PasswordHash: "h"}, storage.ErrAlreadyExists},
		{"other email", storage.User{TenantID: acme.ID, Email: "bob@example.com", PasswordHash: "h", Role: storage.RoleAdmin}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := st.CreateUser(ctx, tc.user)
			wantErr(t, "CreateUser", err, tc.wantErr)
		})
	}

	for _, email := range []string{"alice@example.com", "ALICE@EXAMPLE.COM", " Alice@example.com"} {
		got, err := st.UserByEmail(ctx, acme.ID, email)
		wantErr(t, "UserByEmail "+email, err, nil)
		wantEqual(t, "UserByEmail "+email, got, want)
	}
	other, err := st.UserByEmail(ctx, globex.ID, "alice@example.com")
	wantErr(t, "UserByEmail in other tenant", err, nil)
	if other.ID == alice.ID || other.TenantID != globex.ID {
		t.Errorf("UserByEmail in other tenant = %+v, want globex's own user", other)
	}
	got, err := st.UserByID(ctx, alice.ID)
	wantErr(t, "UserByID", err, nil)
	wantEqual(t, "UserByID", got, want)

	page, err := st.ListUsers(ctx, acme.ID, 0, 10)
	wantErr(t, "ListUsers", err, nil)
	wantEqual(t, "ListUsers emails", ids(page, func(u storage.User) string { return u.Email }),
		[]string{"alice@example.com", "bob@example.com"})
	page, err = st.ListUsers(ctx, acme.ID, 1, 10)
	wantErr(t, "ListUsers offset", err, nil)
	wantEqual(t, "ListUsers offset emails", ids(page, func(u storage.User) string { return u.Email }), []string{"bob@example.com"})
	if page[0].Role != storage.RoleAdmin {
		t.Errorf("bob's role = %q, want admin", page[0].Role)
	}
	page, err = st.ListUsers(ctx, acme.ID, 0, 1)
	wantErr(t, "ListUsers limit", err, nil)
	wantEqual(t, "ListUsers limit emails", ids(page, func(u storage.User) string { return u.Email }), []string{"alice@example.com"})
}

func testUpdateUser(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	bob := mustUser(t, st, w.tenant.ID, "bob@example.com")
	other := mustTenant(t, st, "globex")

	got, err := st.UpdateUser(ctx, w.user.ID, func(u *storage.User) error {
		u.Name, u.Role, u.Email = "Alice A.", storage.RoleAdmin, "Alice.A@Example.com"
		u.ID, u.TenantID, u.CreatedAt = "forged", other.ID, time.Time{} // ignored
		return nil
	})
	wantErr(t, "UpdateUser", err, nil)
	if got.ID != w.user.ID || got.TenantID != w.tenant.ID || !got.CreatedAt.Equal(w.user.CreatedAt) {
		t.Errorf("UpdateUser changed id, tenant or creation time: %+v", got)
	}
	if got.Name != "Alice A." || got.Role != storage.RoleAdmin || got.Email != "alice.a@example.com" {
		t.Errorf("UpdateUser = %+v, want new name, admin role, normalised email", got)
	}
	if got.UpdatedAt.Before(w.user.UpdatedAt) {
		t.Errorf("UpdatedAt went back: %v < %v", got.UpdatedAt, w.user.UpdatedAt)
	}
	read, err := st.UserByID(ctx, w.user.ID)
	wantErr(t, "UserByID", err, nil)
	if read.Name != "Alice A." || read.Email != "alice.a@example.com" {
		t.Errorf("UserByID after UpdateUser = %+v", read)
	}

	t.Run("email taken", func(t *testing.T) {
		_, err := st.UpdateUser(ctx, bob.ID, func(u *storage.User) error { u.Email = "ALICE.A@example.com"; return nil })
		wantErr(t, "UpdateUser", err, storage.ErrAlreadyExists)
	})
	t.Run("updater error", func(t *testing.T) {
		boom := errors.New("boom")
		_, err := st.UpdateUser(ctx, bob.ID, func(u *storage.User) error { u.Name = "changed"; return boom })
		wantErr(t, "UpdateUser", err, boom)
		read, err := st.UserByID(ctx, bob.ID)
		wantErr(t, "UserByID", err, nil)
		if read.Name == "changed" {
			t.Error("UpdateUser stored the change although the updater failed")
		}
	})
	t.Run("disable ends sessions", func(t *testing.T) {
		s1 := mustSession(t, st, read, now().Add(time.Hour))
		s2 := mustSession(t, st, read, now().Add(time.Hour))
		keep := mustSession(t, st, bob, now().Add(time.Hour))
		u, err := st.UpdateUser(ctx, read.ID, func(u *storage.User) error { u.Disabled = true; return nil })
		wantErr(t, "UpdateUser disable", err, nil)
		if !u.Disabled {
			t.Error("user not disabled")
		}
		for _, s := range []storage.Session{s1, s2} {
			_, err := st.SessionByID(ctx, s.ID)
			wantErr(t, "SessionByID of the disabled user", err, storage.ErrNotFound)
		}
		_, err = st.SessionByID(ctx, keep.ID)
		wantErr(t, "SessionByID of another user", err, nil)
	})
}

func testClients(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	acme, globex := mustTenant(t, st, "acme"), mustTenant(t, st, "globex")
	created := now()
	web, err := st.CreateClient(ctx, storage.Client{TenantID: acme.ID, Name: "web", SecretHash: "secret-hash",
		RedirectURIs: []string{"https://a.example/cb", "https://a.example/cb2"}, PostLogoutURIs: []string{"https://a.example/"},
		Grants: []string{"authorization_code", "refresh_token"}, Scopes: []string{"admin"}, Admin: true, CreatedAt: created})
	wantErr(t, "CreateClient", err, nil)
	want := storage.Client{ID: web.ID, TenantID: acme.ID, Name: "web", SecretHash: "secret-hash",
		RedirectURIs: []string{"https://a.example/cb", "https://a.example/cb2"}, PostLogoutURIs: []string{"https://a.example/"},
		Grants: []string{"authorization_code", "refresh_token"}, Scopes: []string{"admin"}, Admin: true, CreatedAt: created}
	wantEqual(t, "CreateClient", web, want)
	got, err := st.ClientByID(ctx, web.ID)
	wantErr(t, "ClientByID", err, nil)
	wantEqual(t, "ClientByID", got, want)
	if !got.HasGrant("refresh_token") || got.HasGrant("client_credentials") {
		t.Errorf("HasGrant wrong for %v", got.Grants)
	}
	_, err = st.CreateClient(ctx, storage.Client{ID: web.ID, TenantID: acme.ID, Name: "dup"})
	wantErr(t, "CreateClient with a duplicate id", err, storage.ErrAlreadyExists)

	// A secret hash is replaced only while it is still the one read (compare-and-set).
	wantErr(t, "UpgradeClientSecretHash from another hash", st.UpgradeClientSecretHash(ctx, web.ID, "other-hash", "new-hash"), storage.ErrConflict)
	wantErr(t, "UpgradeClientSecretHash of an unknown client", st.UpgradeClientSecretHash(ctx, "nope", "secret-hash", "new-hash"), storage.ErrConflict)
	wantErr(t, "UpgradeClientSecretHash", st.UpgradeClientSecretHash(ctx, web.ID, "secret-hash", "new-hash"), nil)
	wantErr(t, "UpgradeClientSecretHash again", st.UpgradeClientSecretHash(ctx, web.ID, "secret-hash", "newer-hash"), storage.ErrConflict)
	got, err = st.ClientByID(ctx, web.ID)
	wantErr(t, "ClientByID after the upgrade", err, nil)
	want.SecretHash = "new-hash"
	wantEqual(t, "ClientByID after the upgrade", got, want)

	cli := mustClient(t, st, acme.ID, "cli")
	spa, err := st.CreateClient(ctx, storage.Client{TenantID: globex.ID, Name: "spa", Public: true})
	wantErr(t, "CreateClient public", err, nil)

	name := func(c storage.Client) string { return c.Name }
	for _, tc := range []struct {
		name, tenant string
		want         []string
	}{
		{"acme", acme.ID, []string{"cli", "web"}},
		{"globex", globex.ID, []string{"spa"}},
		{"all", "", []string{"cli", "spa", "web"}},
		{"unknown tenant", "nope", []string{}},
	} {
		t.Run("list "+tc.name, func(t *testing.T) {
			l, err := st.ListClients(ctx, tc.tenant)
			wantErr(t, "ListClients", err, nil)
			wantEqual(t, "ListClients names", ids(l, name), tc.want)
		})
	}

	// A client's pending auth requests go with it, and the tokens issued to it are revoked.
	w := world{tenant: acme, user: mustUser(t, st, acme.ID, "alice@example.com"), client: cli}
	ar := w.mustAuthRequest(t, st)
	at, rt := tokenPair("grant-del", w.user, cli.ID, now().Add(time.Hour))
	wantErr(t, "CreateTokens", st.CreateTokens(ctx, at, &rt), nil)
	otherAT, _ := tokenPair("grant-other", w.user, spa.ID, now().Add(time.Hour))
	wantErr(t, "CreateTokens", st.CreateTokens(ctx, otherAT, nil), nil)

	for _, tc := range []struct {
		name, tenant, id string
		wantErr          error
	}{
		{"other tenant's client", globex.ID, cli.ID, storage.ErrNotFound},
		{"own client", acme.ID, cli.ID, nil},
		{"again", acme.ID, cli.ID, storage.ErrNotFound},
		{"unknown", acme.ID, "nope", storage.ErrNotFound},
	} {
		t.Run("delete "+tc.name, func(t *testing.T) {
			wantErr(t, "DeleteClient", st.DeleteClient(ctx, tc.tenant, tc.id), tc.wantErr)
		})
	}
	_, err = st.ClientByID(ctx, cli.ID)
	wantErr(t, "ClientByID after delete", err, storage.ErrNotFound)
	_, err = st.AuthRequestByID(ctx, ar.ID)
	wantErr(t, "AuthRequestByID after its client was deleted", err, storage.ErrNotFound)
	_, err = st.ClientByID(ctx, spa.ID)
	wantErr(t, "ClientByID of another client", err, nil)
	if got, err := st.AccessTokenByID(ctx, at.ID); err != nil || got.RevokedAt == nil {
		t.Errorf("access token of the deleted client: revoked %v, %v", got.RevokedAt, err)
	}
	if got, err := st.RefreshTokenByHash(ctx, rt.TokenHash); err != nil || got.RevokedAt == nil {
		t.Errorf("refresh token of the deleted client: revoked %v, %v", got.RevokedAt, err)
	}
	if got, err := st.AccessTokenByID(ctx, otherAT.ID); err != nil || got.RevokedAt != nil {
		t.Errorf("another client's token was revoked: %v, %v", got.RevokedAt, err)
	}
}

func testSessions(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	bob := mustUser(t, st, w.tenant.ID, "bob@example.com")
	s := mustSession(t, st, w.user, now().Add(time.Hour))
	got, err := st.SessionByID(ctx, s.ID)
	wantErr(t, "SessionByID", err, nil)
	wantEqual(t, "SessionByID", got, s)
	wantErr(t, "CreateSession with a duplicate id", st.CreateSession(ctx, s), storage.ErrAlreadyExists)

	wantErr(t, "DeleteSession", st.DeleteSession(ctx, s.ID), nil)
	_, err = st.SessionByID(ctx, s.ID)
	wantErr(t, "SessionByID after delete", err, storage.ErrNotFound)
	wantErr(t, "DeleteSession of a missing session", st.DeleteSession(ctx, s.ID), nil)

	a1, a2 := mustSession(t, st, w.user, now().Add(time.Hour)), mustSession(t, st, w.user, now().Add(time.Hour))
	b := mustSession(t, st, bob, now().Add(time.Hour))
	wantErr(t, "DeleteUserSessions", st.DeleteUserSessions(ctx, w.user.ID), nil)
	for _, id := range []string{a1.ID, a2.ID} {
		_, err := st.SessionByID(ctx, id)
		wantErr(t, "SessionByID after DeleteUserSessions", err, storage.ErrNotFound)
	}
	_, err = st.SessionByID(ctx, b.ID)
	wantErr(t, "SessionByID of another user", err, nil)
}

func testNotFound(t *testing.T, st *storage.Store) {
	w := newWorld(t, st)
	for _, tc := range []struct {
		name string
		call func(t *testing.T) error
	}{
		{"TenantByID", func(t *testing.T) error { _, err := st.TenantByID(t.Context(), "nope"); return err }},
		{"TenantByRef", func(t *testing.T) error { _, err := st.TenantByRef(t.Context(), "nope"); return err }},
		{"UserByID", func(t *testing.T) error { _, err := st.UserByID(t.Context(), "nope"); return err }},
		{"UserByEmail unknown email", func(t *testing.T) error {
			_, err := st.UserByEmail(t.Context(), w.tenant.ID, "nobody@example.com")
			return err
		}},
		{"UserByEmail other tenant", func(t *testing.T) error {
			_, err := st.UserByEmail(t.Context(), "other", w.user.Email)
			return err
		}},
		{"UpdateUser", func(t *testing.T) error {
			_, err := st.UpdateUser(t.Context(), "nope", func(*storage.User) error { return nil })
			return err
		}},
		{"ClientByID", func(t *testing.T) error { _, err := st.ClientByID(t.Context(), "nope"); return err }},
		{"DeleteClient", func(t *testing.T) error { return st.DeleteClient(t.Context(), w.tenant.ID, "nope") }},
		{"AuthRequestByID", func(t *testing.T) error { _, err := st.AuthRequestByID(t.Context(), "nope"); return err }},
		{"BindAuthRequest", func(t *testing.T) error { return st.BindAuthRequest(t.Context(), "nope", "browser") }},
		{"ConsumeCode", func(t *testing.T) error { _, err := st.ConsumeCode(t.Context(), "nope", now()); return err }},
		{"SessionByID", func(t *testing.T) error { _, err := st.SessionByID(t.Context(), "nope"); return err }},
		{"AccessTokenByID", func(t *testing.T) error { _, err := st.AccessTokenByID(t.Context(), "nope"); return err }},
		{"RefreshTokenByHash", func(t *testing.T) error { _, err := st.RefreshTokenByHash(t.Context(), "nope"); return err }},
		{"AuthenticatorByUser", func(t *testing.T) error { _, err := st.AuthenticatorByUser(t.Context(), w.user.ID); return err }},
		{"ActivateAuthenticator", func(t *testing.T) error {
			_, err := st.ActivateAuthenticator(t.Context(), storage.Activation{PendingID: "nope", Step: 1, Now: now()})
			return err
		}},
		{"SetMFAPolicy", func(t *testing.T) error {
			_, _, err := st.SetMFAPolicy(t.Context(), "nope", true, storage.AuditEvent{Action: "mfa_policy.set"})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.name, tc.call(t), storage.ErrNotFound) })
	}
}

func testMFAPolicyAudit(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	w := newWorld(t, st)
	other := mustTenant(t, st, "globex")
	base := now()

	before, after, err := st.SetMFAPolicy(ctx, w.tenant.ID, true, storage.AuditEvent{ActorID: w.user.ID,
		Action: "mfa_policy.set", Address: "192.0.2.1", CreatedAt: base})
	wantErr(t, "SetMFAPolicy on", err, nil)
	if before.MFAEnabled || !before.MFAUpdatedAt.IsZero() {
		t.Errorf("before = %+v, want policy off and never changed", before)
	}
	if !after.MFAEnabled || after.MFAUpdatedBy != w.user.ID {
		t.Errorf("after = %+v, want policy on, changed by the actor", after)
	}
	wantTime(t, "after.MFAUpdatedAt", after.MFAUpdatedAt, base)
	got, err := st.TenantByID(ctx, w.tenant.ID)
	wantErr(t, "TenantByID", err, nil)
	wantEqual(t, "TenantByID after SetMFAPolicy", got, after)

	_, _, err = st.SetMFAPolicy(ctx, w.tenant.ID, false, storage.AuditEvent{ActorID: "admin-2", Action: "mfa_policy.set",
		CreatedAt: base.Add(time.Second)})
	wantErr(t, "SetMFAPolicy off", err, nil)
	_, _, err = st.SetMFAPolicy(ctx, other.ID, true, storage.AuditEvent{ActorID: "x", Action: "mfa_policy.set", CreatedAt: base})
	wantErr(t, "SetMFAPolicy other tenant", err, nil)

	evs, err := st.ListAudit(ctx, w.tenant.ID, 0, 10)
	wantErr(t, "ListAudit", err, nil)
	if len(evs) != 2 {
		t.Fatalf("ListAudit = %d events, want one per SetMFAPolicy: %+v", len(evs), evs)
	}
	for i, tc := range []struct {
		actor    string
		old, new bool
		at       time.Time
	}{
		{"admin-2", true, false, base.Add(time.Second)},
		{w.user.ID, false, true, base},
	} {
		e := evs[i]
		if e.ID == "" || e.TenantID != w.tenant.ID || e.ActorID != tc.actor || e.Action != "mfa_policy.set" {
			t.Errorf("event %d = %+v", i, e)
		}
		wantEqual(t, "event detail", e.Detail, map[string]any{"old": tc.old, "new": tc.new})
		wantTime(t, "event time", e.CreatedAt, tc.at)
	}
	if evs[1].Address != "192.0.2.1" {
		t.Errorf("event address = %q", evs[1].Address)
	}
	got, err = st.TenantByID(ctx, w.tenant.ID)
	wantErr(t, "TenantByID", err, nil)
	if got.MFAEnabled || got.MFAUpdatedBy != "admin-2" {
		t.Errorf("tenant after SetMFAPolicy off = %+v", got)
	}
}

func testListAudit(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	base := now()
	var want []string
	for i := range 5 {
		ev := storage.AuditEvent{ID: storage.NewID(), TenantID: "t1", Action: "test", Detail: map[string]any{"i": float64(i)},
			CreatedAt: base.Add(time.Duration(i) * time.Second)}
		wantErr(t, "AddAudit", st.AddAudit(ctx, ev), nil)
		want = append([]string{ev.ID}, want...) // newest first
	}
	wantErr(t, "AddAudit other tenant", st.AddAudit(ctx, storage.AuditEvent{TenantID: "t2", Action: "test", CreatedAt: base}), nil)
	id := func(e storage.AuditEvent) string { return e.ID }
	for _, tc := range []struct {
		name          string
		offset, limit int
		want          []string
	}{
		{"all", 0, 10, want},
		{"first page", 0, 2, want[:2]},
		{"second page", 2, 2, want[2:4]},
		{"last page", 4, 2, want[4:]},
		{"past the end", 5, 2, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := st.ListAudit(ctx, "t1", tc.offset, tc.limit)
			wantErr(t, "ListAudit", err, nil)
			wantEqual(t, "ListAudit ids", ids(evs, id), tc.want)
		})
	}
	evs, err := st.ListAudit(ctx, "t1", 0, 1)
	wantErr(t, "ListAudit", err, nil)
	wantEqual(t, "newest detail", evs[0].Detail, map[string]any{"i": float64(4)})
}

package mfa

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// sessionWith stores an SSO session of user carrying factors and returns its id.
func (f *fixture) sessionWith(t *testing.T, user storage.User, factors ...string) string {
	t.Helper()
	now := f.clk.Now()
	s := storage.Session{ID: storage.NewID(), TenantID: f.tenant.ID, UserID: user.ID, Factors: factors, AuthTime: now, CreatedAt: now,
		ExpiresAt: now.Add(time.Hour)}
	if err := f.st.CreateSession(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s.ID
}

// The account page's secret: one per session, the same at every visit, invisible to and unconfirmable
// from another session; the confirming code's step is stored, so it neither confirms again nor signs
// in; replacing ends the sessions that carry the old app's codes and keeps this one.
func TestAccountEnrolment(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		ann := f.user(t, "ann@acme.test")
		oldKey := randomKey(t)
		old := f.activate(t, ann, oldKey, Step(f.clk.Now())-5)
		here := f.sessionWith(t, ann, FactorPassword, FactorOTP)
		other := f.sessionWith(t, ann, FactorPassword, FactorOTP)
		withKey := f.sessionWith(t, ann, FactorPassword, FactorHardwareKey)

		if _, err := f.svc.AccountEnrolment(ctx, ann, here, "Acme"); !errors.Is(err, ErrNoPendingEnrolment) {
			t.Fatalf("before beginning: %v", err)
		}
		en, err := f.svc.BeginAccountEnrolment(ctx, ann, here, "Acme", Meta{})
		if err != nil {
			t.Fatal(err)
		}
		if again, err := f.svc.BeginAccountEnrolment(ctx, ann, here, "Acme", Meta{}); err != nil || again.Secret != en.Secret {
			t.Fatalf("beginning again: %v, same secret %v", err, again.Secret == en.Secret)
		}
		if _, err := f.svc.AccountEnrolment(ctx, ann, other, "Acme"); !errors.Is(err, ErrNoPendingEnrolment) {
			t.Errorf("another session sees the secret: %v", err)
		}
		key, err := b32.DecodeString(en.Secret)
		if err != nil {
			t.Fatal(err)
		}
		code := mustCode(t, key, f.clk.Now())
		if _, err := f.svc.ConfirmAccountEnrolment(ctx, ann, other, code, Meta{}); !errors.Is(err, ErrNoPendingEnrolment) {
			t.Errorf("confirming from another session: %v", err)
		}
		if _, err := f.svc.ConfirmAccountEnrolment(ctx, ann, here, mustCode(t, oldKey, f.clk.Now()), Meta{}); !errors.Is(err, ErrInvalidCode) {
			t.Errorf("the old app's code: %v", err)
		}
		codes, err := f.svc.ConfirmAccountEnrolment(ctx, ann, here, code, Meta{Address: "192.0.2.1"})
		if err != nil || len(codes) != RecoveryCodeCount {
			t.Fatalf("confirming: %d codes, %v", len(codes), err)
		}
		a, err := st.AuthenticatorByUser(ctx, ann.ID)
		if err != nil || a.ID == old.ID || a.LastStep != Step(f.clk.Now()) || a.EnrolledAddress != "192.0.2.1" {
			t.Fatalf("after replacing: %+v %v", a, err)
		}
		if _, err := f.svc.ConfirmAccountEnrolment(ctx, ann, here, code, Meta{}); !errors.Is(err, ErrNoPendingEnrolment) {
			t.Errorf("the confirming code again: %v", err)
		}
		if err := f.svc.Verify(ctx, ann, code, Meta{}); !errors.Is(err, ErrReplay) {
			t.Errorf("the confirming code signing in: %v, want ErrReplay", err)
		}
		for id, want := range map[string]bool{here: true, other: false, withKey: true} {
			if _, err := st.SessionByID(ctx, id); (err == nil) != want {
				t.Errorf("session %s: %v, want kept %v", id, err, want)
			}
		}
		if n := f.actions(t)[AuditEnrolmentConfirmed]; n != 1 {
			t.Errorf("%d enrolment events, want 1 (the replacement)", n)
		}
	})
}

// A disabled user and a user whose admin's reset left an enrolment code begin and confirm nothing.
func TestAccountEnrolmentRefusals(t *testing.T) {
	ctx := context.Background()
	f := newSQLiteFixture(t)
	bob := f.user(t, "bob@acme.test")
	s := f.sessionWith(t, bob, FactorPassword, FactorHardwareKey)
	disabled := bob
	disabled.Disabled = true
	if _, err := f.svc.BeginAccountEnrolment(ctx, disabled, s, "Acme", Meta{}); !errors.Is(err, ErrUserDisabled) {
		t.Errorf("disabled, begin: %v", err)
	}
	if _, err := f.svc.BeginAccountEnrolment(ctx, bob, s, "Acme", Meta{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ConfirmAccountEnrolment(ctx, disabled, s, "123456", Meta{}); !errors.Is(err, ErrUserDisabled) {
		t.Errorf("disabled, confirm: %v", err)
	}
	_, code, err := f.svc.NewEnrolmentCode(bob, "admin")
	if err != nil {
		t.Fatal(err)
	}
	code.ExpiresAt = f.clk.Now().Add(time.Hour)
	if err := f.st.ResetMFA(ctx, bob.ID, &code, storage.AuditEvent{TenantID: f.tenant.ID, Action: "mfa.reset", CreatedAt: f.clk.Now()}); err != nil {
		t.Fatal(err)
	}
	s = f.sessionWith(t, bob, FactorPassword) // the reset ended her sessions
	if _, err := f.svc.BeginAccountEnrolment(ctx, bob, s, "Acme", Meta{}); !errors.Is(err, ErrEnrolmentCodeRequired) {
		t.Errorf("enrolment code pending, begin: %v", err)
	}
	if _, err := f.svc.ConfirmAccountEnrolment(ctx, bob, s, "123456", Meta{}); !errors.Is(err, ErrEnrolmentCodeRequired) {
		t.Errorf("enrolment code pending, confirm: %v", err)
	}
	f.clk.Advance(2 * time.Hour)
	if _, err := f.svc.BeginAccountEnrolment(ctx, bob, s, "Acme", Meta{}); !errors.Is(err, ErrEnrolmentCodeExpired) {
		t.Errorf("enrolment code expired, begin: %v", err)
	}
}

package storagetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/portcullis/portcullis/storage"
)

// signInRace is a sign-in step racing a change that ends the user's sessions and sign-ins in flight:
// setup prepares one round for the user u and returns the step's write and the change.
type signInRace struct {
	name  string
	setup func(t *testing.T, st *storage.Store, w world, u storage.User) signInRound
}

// signInRound is one round of a signInRace.
type signInRound struct {
	req     storage.AuthRequest // the sign-in as the step read it
	factors []string            // what the step records (and its session carries)
	proof   storage.Proof       // what the step verified
	carry   bool                // the step carries a session over (RecordLogin) instead of taking a step
	only    bool                // the step's login is recorded already: the step stores the session only
	change  func() error
}

// testConcurrentSignInAndReset: a sign-in step records its login and stores its session while a
// password reset, an MFA reset, a key's removal, an app's replacement, a disable or a delete of the
// user commits. Whichever way they interleave, no session is left, and the sign-in is ended or records
// nothing: the step is refused (ErrConflict) or the change ends what it wrote.
func testConcurrentSignInAndReset(t *testing.T, st *storage.Store) {
	ctx := t.Context()
	pwd := []string{factorPassword}
	endEvent := func(u storage.User, action string) storage.AuditEvent {
		return storage.AuditEvent{TenantID: u.TenantID, Action: action, CreatedAt: now()}
	}
	passwordReset := func(u storage.User) func() error { // lifecycle's setPassword
		return func() error {
			return st.InTx(ctx, func(tx *storage.Store) error {
				if _, err := tx.UpdateUser(ctx, u.ID, func(x *storage.User) error { x.PasswordHash = "$argon2id$new"; return nil }); err != nil {
					return err
				}
				if err := tx.DeleteUserSessions(ctx, u.ID); err != nil {
					return err
				}
				return tx.RevokeUserTokens(ctx, u.ID, now())
			})
		}
	}
	w := newWorld(t, st)
	for _, tc := range []signInRace{
		{"session after the password step/password reset", func(t *testing.T, st *storage.Store, w world, u storage.User) signInRound {
			return signInRound{req: w.boundRequest(t, st, u.ID, pwd), factors: pwd, only: true, change: passwordReset(u)}
		}},
		{"session after the password step/MFA reset", func(t *testing.T, st *storage.Store, w world, u storage.User) signInRound {
			return signInRound{req: w.boundRequest(t, st, u.ID, pwd), factors: pwd, only: true, change: func() error {
				return st.ResetMFA(ctx, u.ID, nil, endEvent(u, "mfa.reset"))
			}}
		}},
		{"session after the password step/admin's MFA reset", func(t *testing.T, st *storage.Store, w world, u storage.User) signInRound {
			return signInRound{req: w.boundRequest(t, st, u.ID, pwd), factors: pwd, only: true, change: func() error {
				return st.InTx(ctx, func(tx *storage.Store) error { // tenantadmin's ResetMFA: the user's lock first
					if _, err := tx.LockUser(ctx, u.ID); err != nil {
						return err
					}
					return tx.ResetMFA(ctx, u.ID, nil, endEvent(u, "mfa.reset"))
				})
			}}
		}},
		{"session after the password step/user disabled", func(t *testing.T, st *storage.Store, w world, u storage.User) signInRound {
			return signInRound{req: w.boundRequest(t, st, u.ID, pwd), factors: pwd, only: true, change: func() error {
				_, err := st.UpdateUser(ctx, u.ID, func(x *storage.User) error { x.Disabled = true; return nil })
				return err
			}}
		}},
		{"session after the password step/admin disables the user", func(t *testing.T, st *storage.Store, w world, u storage.User) signInRound {
			return signInRound{req: w.boundRequest(t, st, u.ID, pwd), factors: pwd, only: true, change: func() error {
				return st.InTx(ctx, func(tx *storage.Store) error { // tenantadmin's UpdateUser: the tenant's lock first
					if err := tx.LockTenant(ctx, u.TenantID); err != nil {
						return err
					}
					_, err := tx.UpdateUser(ctx, u.ID, func(x *storage.User) error { x.Disabled = true; return nil })
					return err
				})
			}}
		}},
		{"session after the password step/user deleted", func(t *testing.T, st *storage.Store, w world, u storage.User) signInRound {
			return signInRound{req: w.boundRequest(t, st, u.ID, pwd), factors: pwd, only: true, change: func() error {
				return st.DeleteUser(ctx, u.ID, now())
			}}
		}},
		{"password step/password reset", func(t *testing.T, st *storage.Store, w world, u storage.User) signInRound {
			return signInRound{req: w.boundRequest(t, st, "", nil), factors: pwd, proof: storage.Proof{PasswordHash: u.PasswordHash},
				change: passwordReset(u)}
		}},
		{"password step/password change", func(t *testing.T, st *storage.Store, w world, u storage.User) signInRound {
			keep := mustSession(t, st, u, now().Add(time.Hour)) // the account page that changes it
			return signInRound{req: w.boundRequest(t, st, "", nil), factors: pwd, proof: storage.Proof{PasswordHash: u.PasswordHash},
				change: func() error {
					return st.InTx(ctx, func(tx *storage.Store) error {
						if _, err := tx.UpdateUser(ctx, u.ID, func(x *storage.User) error { x.PasswordHash = "$argon2id$new"; return nil }); err != nil {
							return err
						}
						return tx.DeleteOtherSessions(ctx, u.ID, keep.ID)
					})
				}}
		}},
		{"password step/user disabled", func(t *testing.T, st *storage.Store, w world, u storage.User) signInRound {
			return signInRound{req: w.boundRequest(t, st, "", nil), factors: pwd, proof: storage.Proof{PasswordHash: u.PasswordHash},
				change: func() error {
					_, err := st.UpdateUser(ctx, u.ID, func(x *storage.User) error { x.Disabled = true; return nil })
					return err
				}}
		}},
		{"password step/user deleted", func(t *testing.T, st *storage.Store, w world, u storage.User) signInRound {
			return signInRound{req: w.boundRequest(t, st, "", nil), factors: pwd, proof: storage.Proof{PasswordHash: u.PasswordHash},
				change: func() error { return st.DeleteUser(ctx, u.ID, now()) }}
		}},
		{"session carried over/password reset", func(t *testing.T, st *storage.Store, w world, u storage.User) signInRound {
			s := mustSession(t, st, u, now().Add(time.Hour))
			return signInRound{req: w.boundRequest(t, st, "", nil), factors: s.Factors, proof: storage.Proof{SessionID: s.ID}, carry: true,
				change: passwordReset(u)}
		}},
		{"session carried over/MFA reset", func(t *testing.T, st *storage.Store, w world, u storage.User) signInRound {
			s := mustSession(t, st, u, now().Add(time.Hour))
			return signInRound{req: w.boundRequest(t, st, "", nil), factors: s.Factors, proof: storage.Proof{SessionID: s.ID}, carry: true,
				change: func() error { return st.ResetMFA(ctx, u.ID, nil, endEvent(u, "mfa.reset")) }}
		}},
		{"key step/key removed", func(t *testing.T, st *storage.Store, w world, u storage.User) signInRound {
			key := mustKey(t, st, u)
			return signInRound{req: w.boundRequest(t, st, u.ID, pwd), factors: []string{factorPassword, factorKey},
				proof: storage.Proof{CredentialID: key.ID}, change: func() error {
					return st.DeleteCredential(ctx, u.ID, key.ID, factorKey, factorKey, endEvent(u, "mfa.key_removed"))
				}}
		}},
		{"passkey/MFA reset", func(t *testing.T, st *storage.Store, w world, u storage.User) signInRound {
			key := mustKey(t, st, u)
			return signInRound{req: w.boundRequest(t, st, "", nil), factors: []string{factorKey, "user"},
				proof: storage.Proof{CredentialID: key.ID}, change: func() error {
					return st.ResetMFA(ctx, u.ID, nil, endEvent(u, "mfa.reset"))
				}}
		}},
		{"code step/app replaced", func(t *testing.T, st *storage.Store, w world, u storage.User) signInRound {
			old := mustActiveAuthenticator(t, st, u, 1)
			account := mustSession(t, st, u, now().Add(time.Hour))
			p := storage.PendingEnrolment{ID: storage.NewID(), SessionID: account.ID, UserID: u.ID, TenantID: u.TenantID,
				SecretSealed: []byte("new-secret"), CreatedAt: now()}
			wantErr(t, "CreatePendingEnrolment", st.CreatePendingEnrolment(ctx, p), nil)
			return signInRound{req: w.boundRequest(t, st, u.ID, pwd), factors: []string{factorPassword, factorOTP},
				proof: storage.Proof{AuthenticatorID: old.ID}, change: func() error {
					_, err := st.ActivateAuthenticator(ctx, storage.Activation{PendingID: p.ID, Step: 2, Now: now(), Replaces: old.ID,
						EndSessionsWith: []string{factorOTP, factorRecovery}, KeepSession: account.ID})
					return err
				}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recorded := 0
			for round := range raceRounds {
				u := mustUser(t, st, w.tenant.ID, storage.NewID()+"@example.com")
				r := tc.setup(t, st, w, u)
				at := now()
				s := storage.Session{ID: storage.NewID(), TenantID: u.TenantID, UserID: u.ID, Factors: r.factors, AuthTime: at,
					CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
				errStep, errChange := both(func() error {
					// The step starts up to ~2 ms after the change (a change takes about that on
					// PostgreSQL), so that the rounds meet the change's statements at different points.
					time.Sleep(time.Duration(round%10) * 200 * time.Microsecond)
					var err error
					switch {
					case r.only:
					case r.carry:
						err = st.RecordLogin(ctx, r.req, u.ID, r.factors, at, r.proof)
					default:
						err = st.RebindAndRecordLogin(ctx, r.req, "next-"+r.req.ID, u.ID, r.factors, at, r.proof)
					}
					if err != nil {
						return err
					}
					return st.CreateSignInSession(ctx, r.req.ID, s)
				}, r.change)
				wantErr(t, "the change", errChange, nil)
				if errStep != nil && !errors.Is(errStep, storage.ErrConflict) {
					t.Fatalf("round %d: the step: %v, want nil or ErrConflict", round, errStep)
				}
				if _, err := st.SessionByID(ctx, s.ID); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("round %d: the step's session outlived the change (%v)", round, err)
				}
				a, err := st.AuthRequestByID(ctx, r.req.ID)
				switch {
				case errors.Is(err, storage.ErrNotFound):
				case err != nil:
					t.Fatalf("round %d: AuthRequestByID: %v", round, err)
				case a.UserID == u.ID && slices.Equal(a.Factors, r.factors):
					t.Errorf("round %d: the sign-in outlived the change with the step recorded (%v)", round, a.Factors)
				}
				if errStep == nil {
					recorded++
				}
			}
			t.Logf("the step stored its session in %d of %d rounds (ended by the change) and was refused in the others", recorded, raceRounds)
		})
	}
}

package mfa

import (
	"context"
	"errors"

	"github.com/portcullis/portcullis/storage"
)

// Adding a key from the account page, the user's own choice. There is no sign-in (auth request) to bind
// the ceremony to, so its challenge is bound to the browser's SSO session instead (sessionID is the
// session's id, itself a hash of the cookie): the same single use, expiry and "a newer one replaces the
// older" as the sign-in ceremonies, and no other session of the same user can finish it. Whether this
// session may add a key (a fresh sign-in, with the second factor if the user has one) is the caller's
// check; the enrolment-code rule is checked here.

// PurposeAccountRegister is the purpose of the account page's ceremony.
const PurposeAccountRegister = "account-register"

const ceremonyAccount = "account_register"

// BeginAccountRegistration starts adding a key to user from the account page of the SSO session
// sessionID: the options for navigator.credentials.create, as JSON. While an admin's reset has left an
// enrolment code, a new second factor can only be enrolled by a sign-in that presents it:
// ErrEnrolmentCodeRequired (or ErrEnrolmentCodeExpired).
func (k *Keys) BeginAccountRegistration(ctx context.Context, user storage.User, sessionID string) ([]byte, error) {
	if sessionID == "" {
		return nil, errors.New("begin account registration: no session")
	}
	if err := k.noEnrolmentCode(ctx, user); err != nil {
		return nil, err
	}
	return k.beginRegistration(ctx, user, storage.WebAuthnChallenge{SessionID: sessionID, Purpose: PurposeAccountRegister})
}

// FinishAccountRegistration checks the authenticator's answer against the registration challenge of
// the session sessionID, which it spends, and stores the new key of user under name.
func (k *Keys) FinishAccountRegistration(ctx context.Context, user storage.User, sessionID, name string, body []byte, meta Meta) (storage.WebAuthnCredential, error) {
	if err := k.noEnrolmentCode(ctx, user); err != nil {
		return storage.WebAuthnCredential{}, k.refused(ctx, user, meta, ceremonyAccount, err)
	}
	ch, err := k.Store.TakeSessionChallenge(ctx, sessionID, PurposeAccountRegister)
	sd, err := k.checkChallenge(ch, err, user.ID, user.TenantID)
	if err != nil {
		return storage.WebAuthnCredential{}, k.refused(ctx, user, meta, ceremonyAccount, err)
	}
	return k.register(ctx, user, sd, name, body, meta, ceremonyAccount)
}

// noEnrolmentCode refuses while an admin's reset has left an enrolment code for user.
func (k *Keys) noEnrolmentCode(ctx context.Context, user storage.User) error {
	return EnrolmentCodePending(ctx, k.Store, user.ID, k.Now())
}

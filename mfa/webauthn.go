package mfa

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/throttle"
)

// Purposes of WebAuthn ceremonies; each sign-in has at most one challenge per purpose.
const (
	PurposeRegister = "register" // add a key to the signed-in user
	PurposeAssert   = "assert"   // a key as the second factor of the signed-in user
	PurposePasskey  = "passkey"  // passwordless: the key names the user
)

// ChallengeTTL is how long a ceremony may take.
const ChallengeTTL = 5 * time.Minute

// Sentinel errors of WebAuthn ceremonies. The UI shows one message for all of them; they are distinct
// for audit and tests.
var (
	ErrNoChallenge       = errors.New("no webauthn ceremony of this sign-in is waiting")
	ErrKeyRefused        = errors.New("the key's answer was refused")
	ErrUnknownKey        = errors.New("unknown key")
	ErrSignCountBackward = errors.New("the key's signature counter went backwards (a cloned key?)")
	ErrUserDisabled      = errors.New("the user is disabled")
)

// Audit actions of WebAuthn.
const (
	AuditKeyAdded        = "mfa.key_added"
	AuditKeyAccepted     = "mfa.key_accepted"
	AuditKeyRefused      = "mfa.key_refused"
	AuditKeyCloneWarning = "mfa.key_sign_count_backwards"
	AuditKeyRemoved      = "mfa.key_removed"
)

// KeyStore is the part of the storage the WebAuthn ceremonies use; *storage.Store implements it.
type KeyStore interface {
	UserByID(ctx context.Context, id string) (storage.User, error)
	CreateCredential(ctx context.Context, c storage.WebAuthnCredential) (storage.WebAuthnCredential, error)
	CredentialsByUser(ctx context.Context, userID string) ([]storage.WebAuthnCredential, error)
	CredentialByCredentialID(ctx context.Context, credentialID []byte) (storage.WebAuthnCredential, error)
	UseCredential(ctx context.Context, id string, oldCount, newCount uint32, backupState bool, now time.Time) error
	PutChallenge(ctx context.Context, ch storage.WebAuthnChallenge) error
	TakeChallenge(ctx context.Context, authRequestID, purpose string) (storage.WebAuthnChallenge, error)
	TakeSessionChallenge(ctx context.Context, sessionID, purpose string) (storage.WebAuthnChallenge, error)
	EnrolmentCodeByUser(ctx context.Context, userID string) (storage.EnrolmentCode, error)
	AddAudit(ctx context.Context, ev storage.AuditEvent) error
	throttle.Store
}

// KeysConfig configures the relying party.
type KeysConfig struct {
	Issuer      string // the issuer URL: its host is the RP ID and its origin the allowed origin
	RPID        string // overrides the issuer's host (a registrable suffix of it)
	DisplayName string
}

// ErrWebAuthnUnavailable means WebAuthn cannot work for this issuer (an IP address has no RP ID).
var ErrWebAuthnUnavailable = errors.New("webauthn needs a domain name in the issuer (an IP address cannot be an RP ID)")

// Keys runs WebAuthn ceremonies: passkeys and security keys as a second factor and for passwordless
// sign-in. Every challenge is stored in the database, bound to the sign-in (auth request) that began
// it, and taken once.
type Keys struct {
	wa    *webauthn.WebAuthn
	Store KeyStore
	Now   func() time.Time
	Log   *slog.Logger
	// Limiter counts refused key answers of a known user on the same second-factor counter as wrong
	// TOTP and recovery codes (nil: a limiter on Store with the OTP policy).
	Limiter *throttle.Limiter
}

// NewKeys builds the relying party for cfg. It returns ErrWebAuthnUnavailable for an IP-address issuer
// without an RP ID override.
func NewKeys(cfg KeysConfig, store KeyStore, now func() time.Time, log *slog.Logger) (*Keys, error) {
	u, err := url.Parse(cfg.Issuer)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("webauthn: bad issuer %q", cfg.Issuer)
	}
	rpID := cfg.RPID
	if rpID == "" {
		rpID = u.Hostname()
	}
	if net.ParseIP(strings.Trim(rpID, "[]")) != nil {
		return nil, ErrWebAuthnUnavailable
	}
	host := u.Hostname()
	if host != rpID && !strings.HasSuffix(host, "."+rpID) {
		return nil, fmt.Errorf("webauthn: rp id %q is not the issuer's host %q or a parent of it", rpID, host)
	}
	name := cfg.DisplayName
	if name == "" {
		name = "Portcullis"
	}
	wa, err := webauthn.New(&webauthn.Config{RPID: rpID, RPDisplayName: name, RPOrigins: []string{u.Scheme + "://" + u.Host},
		AttestationPreference: protocol.PreferNoAttestation})
	if err != nil {
		return nil, fmt.Errorf("webauthn: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Keys{wa: wa, Store: store, Now: now, Log: log}, nil
}

func (k *Keys) limiter() *throttle.Limiter {
	if k.Limiter != nil {
		return k.Limiter
	}
	return &throttle.Limiter{Store: k.Store, Policy: throttle.OTPPolicy(), Now: k.Now}
}

// RPID is the relying party id in use.
func (k *Keys) RPID() string { return k.wa.Config.RPID }

// waUser adapts a user and their credentials to the library. The user handle is the user's id.
type waUser struct {
	u     storage.User
	creds []storage.WebAuthnCredential
}

func (w waUser) WebAuthnID() []byte          { return []byte(w.u.ID) }
func (w waUser) WebAuthnName() string        { return w.u.Email }
func (w waUser) WebAuthnDisplayName() string { return cmpOr(w.u.Name, w.u.Email) }
func (w waUser) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, 0, len(w.creds))
	for _, c := range w.creds {
		out = append(out, toLibrary(c))
	}
	return out
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func toLibrary(c storage.WebAuthnCredential) webauthn.Credential {
	tr := make([]protocol.AuthenticatorTransport, 0, len(c.Transports))
	for _, t := range c.Transports {
		tr = append(tr, protocol.AuthenticatorTransport(t))
	}
	return webauthn.Credential{ID: c.CredentialID, PublicKey: c.PublicKey, AttestationType: c.AttestationType, Transport: tr,
		Flags:         webauthn.CredentialFlags{UserVerified: c.UserVerified, BackupEligible: c.BackupEligible, BackupState: c.BackupState},
		Authenticator: webauthn.Authenticator{AAGUID: c.AAGUID, SignCount: c.SignCount}}
}

func (k *Keys) user(ctx context.Context, u storage.User) (waUser, error) {
	creds, err := k.Store.CredentialsByUser(ctx, u.ID)
	if err != nil {
		return waUser{}, err
	}
	return waUser{u: u, creds: creds}, nil
}

// HasKey reports whether the user has a passkey or security key.
func (k *Keys) HasKey(ctx context.Context, userID string) (bool, error) {
	creds, err := k.Store.CredentialsByUser(ctx, userID)
	return len(creds) > 0, err
}

func (k *Keys) save(ctx context.Context, authRequestID, purpose string, u storage.User, sd *webauthn.SessionData) error {
	return k.put(ctx, storage.WebAuthnChallenge{AuthRequestID: authRequestID, Purpose: purpose}, u, sd)
}

// put stores sd as the challenge ch (its binding and purpose) of u's ceremony.
func (k *Keys) put(ctx context.Context, ch storage.WebAuthnChallenge, u storage.User, sd *webauthn.SessionData) error {
	data, err := json.Marshal(sd)
	if err != nil {
		return err
	}
	ch.UserID, ch.TenantID, ch.SessionData, ch.ExpiresAt = u.ID, u.TenantID, string(data), k.Now().Add(ChallengeTTL)
	return k.Store.PutChallenge(ctx, ch)
}

// take returns the session data of the sign-in's ceremony for purpose, once; it must belong to userID
// (and tenantID) and be unexpired.
func (k *Keys) take(ctx context.Context, authRequestID, purpose, userID, tenantID string) (webauthn.SessionData, error) {
	ch, err := k.Store.TakeChallenge(ctx, authRequestID, purpose)
	return k.checkChallenge(ch, err, userID, tenantID)
}

// checkChallenge returns the session data of a taken challenge if it belongs to userID (and tenantID)
// and is unexpired.
func (k *Keys) checkChallenge(ch storage.WebAuthnChallenge, err error, userID, tenantID string) (webauthn.SessionData, error) {
	if errors.Is(err, storage.ErrNotFound) {
		return webauthn.SessionData{}, ErrNoChallenge
	}
	if err != nil {
		return webauthn.SessionData{}, err
	}
	if ch.UserID != userID || ch.TenantID != tenantID || !k.Now().Before(ch.ExpiresAt) {
		return webauthn.SessionData{}, ErrNoChallenge
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal([]byte(ch.SessionData), &sd); err != nil {
		return webauthn.SessionData{}, fmt.Errorf("challenge: %w", err)
	}
	return sd, nil
}

// BeginRegistration starts adding a key to user in the sign-in authRequestID (which the caller has
// checked is bound to this browser and allowed to add a key). It returns the options for
// navigator.credentials.create, as JSON.
func (k *Keys) BeginRegistration(ctx context.Context, user storage.User, authRequestID string) ([]byte, error) {
	return k.beginRegistration(ctx, user, storage.WebAuthnChallenge{AuthRequestID: authRequestID, Purpose: PurposeRegister})
}

// beginRegistration begins adding a key to user, its challenge bound as ch says.
func (k *Keys) beginRegistration(ctx context.Context, user storage.User, ch storage.WebAuthnChallenge) ([]byte, error) {
	wu, err := k.user(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("begin registration: %w", err)
	}
	rk := false
	creation, sd, err := k.wa.BeginRegistration(wu,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{RequireResidentKey: &rk,
			ResidentKey: protocol.ResidentKeyRequirementPreferred, UserVerification: protocol.VerificationPreferred}),
		webauthn.WithExclusions(webauthn.Credentials(wu.WebAuthnCredentials()).CredentialDescriptors()),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation))
	if err != nil {
		return nil, fmt.Errorf("begin registration: %w", err)
	}
	if err := k.put(ctx, ch, user, sd); err != nil {
		return nil, fmt.Errorf("begin registration: %w", err)
	}
	return json.Marshal(creation)
}

// FinishRegistration checks the authenticator's answer (body, the JSON of the PublicKeyCredential)
// against this sign-in's registration challenge, which it spends, and stores the new key under name.
func (k *Keys) FinishRegistration(ctx context.Context, user storage.User, authRequestID, name string, body []byte, meta Meta) (storage.WebAuthnCredential, error) {
	sd, err := k.take(ctx, authRequestID, PurposeRegister, user.ID, user.TenantID)
	if err != nil {
		return storage.WebAuthnCredential{}, k.refused(ctx, user, meta, "register", err)
	}
	return k.register(ctx, user, sd, name, body, meta, "register")
}

// register checks the answer body against the taken challenge sd and stores the new key of user;
// ceremony names the way it came in the audit events.
func (k *Keys) register(ctx context.Context, user storage.User, sd webauthn.SessionData, name string, body []byte, meta Meta, ceremony string) (storage.WebAuthnCredential, error) {
	if u, err := k.Store.UserByID(ctx, user.ID); err != nil || u.Disabled {
		return storage.WebAuthnCredential{}, k.refused(ctx, user, meta, ceremony, ErrUserDisabled)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return storage.WebAuthnCredential{}, k.refused(ctx, user, meta, ceremony, fmt.Errorf("%w: %w", ErrKeyRefused, err))
	}
	wu, err := k.user(ctx, user)
	if err != nil {
		return storage.WebAuthnCredential{}, fmt.Errorf("finish registration: %w", err)
	}
	cred, err := k.wa.CreateCredential(wu, sd, parsed)
	if err != nil {
		return storage.WebAuthnCredential{}, k.refused(ctx, user, meta, ceremony, fmt.Errorf("%w: %w", ErrKeyRefused, err))
	}
	tr := make([]string, 0, len(cred.Transport))
	for _, t := range cred.Transport {
		tr = append(tr, string(t))
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = "Passkey or security key"
	}
	c, err := k.Store.CreateCredential(ctx, storage.WebAuthnCredential{CredentialID: cred.ID, UserID: user.ID, TenantID: user.TenantID,
		PublicKey: cred.PublicKey, SignCount: cred.Authenticator.SignCount, Transports: tr, AAGUID: cred.Authenticator.AAGUID,
		AttestationType: cred.AttestationType, UserVerified: cred.Flags.UserVerified, BackupEligible: cred.Flags.BackupEligible,
		BackupState: cred.Flags.BackupState, Name: name, CreatedAt: k.Now()})
	if err != nil {
		if errors.Is(err, storage.ErrAlreadyExists) {
			return storage.WebAuthnCredential{}, k.refused(ctx, user, meta, ceremony, fmt.Errorf("%w: credential registered already", ErrKeyRefused))
		}
		return storage.WebAuthnCredential{}, fmt.Errorf("finish registration: %w", err)
	}
	detail := map[string]any{"credential": c.ID, "name": c.Name, "user_verified": c.UserVerified, "backup_eligible": c.BackupEligible}
	if ceremony != "register" {
		detail["ceremony"] = ceremony
	}
	k.audit(ctx, user, AuditKeyAdded, meta, detail)
	return c, nil
}

// BeginLogin starts the key as the second factor of user in the sign-in authRequestID: the options for
// navigator.credentials.get (allowCredentials lists the user's keys), as JSON.
func (k *Keys) BeginLogin(ctx context.Context, user storage.User, authRequestID string) ([]byte, error) {
	wu, err := k.user(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("begin login: %w", err)
	}
	if len(wu.creds) == 0 {
		return nil, ErrUnknownKey
	}
	assertion, sd, err := k.wa.BeginLogin(wu, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, fmt.Errorf("begin login: %w", err)
	}
	if err := k.save(ctx, authRequestID, PurposeAssert, user, sd); err != nil {
		return nil, fmt.Errorf("begin login: %w", err)
	}
	return json.Marshal(assertion)
}

// Assertion is what a key proved.
type Assertion struct {
	User         storage.User
	Credential   storage.WebAuthnCredential
	UserVerified bool
}

// Factors are the factors the assertion proves.
func (a Assertion) Factors() []string {
	if a.UserVerified {
		return []string{FactorHardwareKey, FactorUserVerified}
	}
	return []string{FactorHardwareKey}
}

// FinishLogin checks a key's answer against the sign-in's second-factor challenge, which it spends.
// A user locked out by failed second factors gets the *throttle.LockedError.
// The attempt is reserved on that throttle before the answer is checked (throttle.Limiter.Begin).
func (k *Keys) FinishLogin(ctx context.Context, user storage.User, authRequestID string, body []byte, meta Meta) (Assertion, error) {
	att, err := k.limiter().Begin(ctx, otpKey(user))
	if err != nil {
		return Assertion{}, err
	}
	defer att.ReleaseLogged(ctx, k.Log)
	sd, err := k.take(ctx, authRequestID, PurposeAssert, user.ID, user.TenantID)
	if err != nil {
		return Assertion{}, k.refusedLogin(ctx, user, att, meta, err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return Assertion{}, k.refusedLogin(ctx, user, att, meta, fmt.Errorf("%w: %w", ErrKeyRefused, err))
	}
	return k.finish(ctx, user, att, sd, parsed, meta)
}

// BeginPasskey starts a passwordless sign-in in the sign-in authRequestID of tenantID: the options for
// navigator.credentials.get without allowCredentials (the key names the user), as JSON. mediation
// "conditional" serves autofill. User verification is preferred, not required: a key that cannot verify
// its user still names them and proves possession, and the password is then asked.
func (k *Keys) BeginPasskey(ctx context.Context, tenantID, authRequestID string) ([]byte, error) {
	assertion, sd, err := k.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, fmt.Errorf("begin passkey: %w", err)
	}
	if err := k.save(ctx, authRequestID, PurposePasskey, storage.User{TenantID: tenantID}, sd); err != nil {
		return nil, fmt.Errorf("begin passkey: %w", err)
	}
	return json.Marshal(assertion)
}

// FinishPasskey checks a passkey's answer against the sign-in's passkey challenge, which it spends, and
// returns the user it names. The credential must belong to a user of tenantID who is not disabled and
// not locked out of the second factor. With user verification the assertion is both factors; without,
// it is possession only (Assertion.Factors), and the password must follow.
func (k *Keys) FinishPasskey(ctx context.Context, tenantID, authRequestID string, body []byte, meta Meta) (Assertion, error) {
	sd, err := k.take(ctx, authRequestID, PurposePasskey, "", tenantID)
	if err != nil {
		return Assertion{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return Assertion{}, fmt.Errorf("%w: %w", ErrKeyRefused, err)
	}
	cred, err := k.Store.CredentialByCredentialID(ctx, parsed.RawID)
	if errors.Is(err, storage.ErrNotFound) {
		return Assertion{}, ErrUnknownKey
	}
	if err != nil {
		return Assertion{}, err
	}
	if cred.TenantID != tenantID || !bytes.Equal(parsed.Response.UserHandle, []byte(cred.UserID)) {
		return Assertion{}, ErrUnknownKey
	}
	user, err := k.Store.UserByID(ctx, cred.UserID)
	if err != nil {
		return Assertion{}, ErrUnknownKey
	}
	att, err := k.limiter().Begin(ctx, otpKey(user))
	if err != nil {
		return Assertion{}, err
	}
	defer att.ReleaseLogged(ctx, k.Log)
	sd.UserID = []byte(user.ID) // validated as this user's assertion from here on
	return k.finish(ctx, user, att, sd, parsed, meta)
}

// finish validates an assertion of user, the attempt att reserved on the user's second-factor throttle,
// and records its use with a compare-and-set on the sign count.
func (k *Keys) finish(ctx context.Context, user storage.User, att *throttle.Attempt, sd webauthn.SessionData, parsed *protocol.ParsedCredentialAssertionData, meta Meta) (Assertion, error) {
	if u, err := k.Store.UserByID(ctx, user.ID); err != nil || u.Disabled || u.TenantID != user.TenantID {
		return Assertion{}, k.refusedLogin(ctx, user, att, meta, ErrUserDisabled)
	}
	wu, err := k.user(ctx, user)
	if err != nil {
		return Assertion{}, err
	}
	var stored storage.WebAuthnCredential
	found := false
	for _, c := range wu.creds {
		if bytes.Equal(c.CredentialID, parsed.RawID) {
			stored, found = c, true
		}
	}
	if !found {
		return Assertion{}, k.refusedLogin(ctx, user, att, meta, ErrUnknownKey)
	}
	cred, err := k.wa.ValidateLogin(wu, sd, parsed)
	if err != nil {
		return Assertion{}, k.refusedLogin(ctx, user, att, meta, fmt.Errorf("%w: %w", ErrKeyRefused, err))
	}
	newCount := cred.Authenticator.SignCount
	if cred.Authenticator.CloneWarning {
		if !stored.BackupEligible {
			k.audit(ctx, user, AuditKeyCloneWarning, meta, map[string]any{"credential": stored.ID,
				"stored_count": stored.SignCount, "count": parsed.Response.AuthenticatorData.Counter})
			return Assertion{}, k.refusedLogin(ctx, user, att, meta, ErrSignCountBackward)
		}
		newCount = stored.SignCount // a synced passkey: counters are not meaningful, keep ours
	}
	if err := k.Store.UseCredential(ctx, stored.ID, stored.SignCount, newCount, cred.Flags.BackupState, k.Now()); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return Assertion{}, k.refusedLogin(ctx, user, att, meta, ErrSignCountBackward)
		}
		return Assertion{}, err
	}
	a := Assertion{User: user, Credential: stored, UserVerified: parsed.Response.AuthenticatorData.Flags.HasUserVerified()}
	if err := att.Succeed(ctx); err != nil {
		k.Log.ErrorContext(ctx, "clear second-factor throttle", "user", user.ID, "err", err)
	}
	k.audit(ctx, user, AuditKeyAccepted, meta, map[string]any{"credential": stored.ID, "user_verified": a.UserVerified})
	return a, nil
}

// refused audits a refused ceremony of a known user.
func (k *Keys) refused(ctx context.Context, user storage.User, meta Meta, ceremony string, err error) error {
	if user.ID == "" {
		return err
	}
	k.audit(ctx, user, AuditKeyRefused, meta, map[string]any{"ceremony": ceremony, "reason": err.Error()})
	return err
}

// refusedLogin is refused of a key answer at sign-in, whose attempt att then counts as a failure on the
// user's second-factor throttle, like a wrong code: it returns the *throttle.LockedError when this failure
// locked the user out. A disabled user's refusal is no guess: its attempt is left to the caller's
// release.
func (k *Keys) refusedLogin(ctx context.Context, user storage.User, att *throttle.Attempt, meta Meta, err error) error {
	if errors.Is(err, ErrUserDisabled) {
		return k.refused(ctx, user, meta, "login", err)
	}
	ferr := att.Fail(ctx)
	err = k.refused(ctx, user, meta, "login", err)
	if le, ok := throttle.IsLocked(ferr); ok {
		k.audit(ctx, user, AuditLockout, meta, map[string]any{"factor": FactorHardwareKey, "until": le.Until.UTC().Format(time.RFC3339)})
		return le
	}
	if ferr != nil {
		return fmt.Errorf("%w (and counting the failure failed: %w)", err, ferr)
	}
	return err
}

func (k *Keys) audit(ctx context.Context, user storage.User, action string, meta Meta, detail map[string]any) {
	if detail == nil {
		detail = map[string]any{}
	}
	if meta.ClientID != "" {
		detail["client_id"] = meta.ClientID
	}
	ev := storage.AuditEvent{TenantID: user.TenantID, ActorID: user.ID, TargetID: user.ID, Action: action, Address: meta.Address,
		CreatedAt: k.Now(), Detail: detail}
	if err := k.Store.AddAudit(ctx, ev); err != nil {
		k.Log.ErrorContext(ctx, "audit", "action", action, "err", err)
	}
}

// Package tenantadmin is the one home of the operations that change a tenant: create a tenant, create
// and update users (role, disabled, name), reset a user's second factor, set the MFA policy, create and
// delete clients, and list users with their MFA state. The admin API, the account-settings pages, the
// CLI (through app) and the dev bootstrap all call it, so the guards (a tenant keeps at least one
// active admin), the audit event names, the revocations and the clock live here only. Every change is
// written with its audit event in one transaction.
//
// It consumes the small Store interface below (a *storage.Store, through FromStorage), mfa for the
// enrolment code of a reset, secret for client secrets and clientreg for the client rules. It must not
// import op, login, admin, app or anything of HTTP: its callers translate its errors for their surface.
//
// Audit event names (Action of storage.AuditEvent), the same whoever acts:
//
//	tenant.created       a tenant was created                          detail: slug, name
//	user.created         a user was created                            detail: email, role
//	user.updated         role, disabled or name changed                detail: old and new {role, disabled, name}
//	mfa.reset            authenticator and recovery codes removed      detail: email, enrolment_code_expires_at
//	mfa.policy_changed   the tenant's MFA policy was set               detail: old, new (written by storage)
//	client.created       a client was registered                       detail: name, grants, admin
//	client.deleted       a client was removed                          detail: none
//
// A user actor's email is added to the detail as actor_email.
package tenantadmin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/storage"
)

// Audit event names; see the package comment.
const (
	AuditTenantCreated = "tenant.created"
	AuditUserCreated   = "user.created"
	AuditUserUpdated   = "user.updated"
	AuditMFAReset      = "mfa.reset"
	AuditPolicyChanged = "mfa.policy_changed"
	AuditClientCreated = "client.created"
	AuditClientDeleted = "client.deleted"
)

// Roles a user may have.
const (
	RoleAdmin  = storage.RoleAdmin
	RoleMember = storage.RoleMember
)

// Errors of the service. Storage's ErrNotFound and ErrAlreadyExists pass through wrapped.
var (
	// ErrLastAdmin refuses a change that would leave the tenant without an active admin.
	ErrLastAdmin = errors.New("the tenant must keep at least one active admin")
	// ErrInvalid is what every *InvalidError is (errors.Is).
	ErrInvalid = errors.New("invalid input")
)

// InvalidError refuses an input; Detail says what is wrong, in words fit for the caller's user.
type InvalidError struct{ Detail string }

func (e *InvalidError) Error() string        { return e.Detail }
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(format string, args ...any) error {
	return &InvalidError{Detail: fmt.Sprintf(format, args...)}
}

// Store is the storage the service reads from and writes through. *storage.Store implements all but
// InTx's signature; FromStorage adapts it.
type Store interface {
	TenantByRef(ctx context.Context, ref string) (storage.Tenant, error)
	ListTenants(ctx context.Context) ([]storage.Tenant, error)
	UserByID(ctx context.Context, id string) (storage.User, error)
	UserByEmail(ctx context.Context, tenantID, email string) (storage.User, error)
	ListUsers(ctx context.Context, tenantID string, offset, limit int) ([]storage.User, error)
	AuthenticatorByUser(ctx context.Context, userID string) (storage.Authenticator, error)
	AuthenticatorsByUsers(ctx context.Context, userIDs []string) (map[string]storage.Authenticator, error)
	ListClients(ctx context.Context, tenantID string) ([]storage.Client, error)
	CredentialsCountByUsers(ctx context.Context, userIDs []string) (map[string]int, error)
	SetMFAMethods(ctx context.Context, tenantID string, methods []string, ev storage.AuditEvent) (before, after storage.Tenant, err error)
	// InTx runs fn with a Tx bound to one transaction.
	InTx(ctx context.Context, fn func(tx Tx) error) error
}

// Tx is what one change writes, all or nothing.
type Tx interface {
	CreateTenant(ctx context.Context, t storage.Tenant) (storage.Tenant, error)
	CreateUser(ctx context.Context, u storage.User) (storage.User, error)
	UpdateUser(ctx context.Context, id string, update func(*storage.User) error) (storage.User, error)
	UserByID(ctx context.Context, id string) (storage.User, error)
	LockTenant(ctx context.Context, tenantID string) error
	LockUser(ctx context.Context, id string) (storage.User, error)
	RevokeLinks(ctx context.Context, userID, purpose string, now time.Time) error
	CountActiveAdmins(ctx context.Context, tenantID string) (int64, error)
	RevokeUserTokens(ctx context.Context, subject string, now time.Time) error
	ResetMFA(ctx context.Context, userID string, code *storage.EnrolmentCode, ev storage.AuditEvent) error
	CreateClient(ctx context.Context, c storage.Client) (storage.Client, error)
	DeleteClient(ctx context.Context, tenantID, id string) error
	AddAudit(ctx context.Context, ev storage.AuditEvent) error
	DeleteUserSessions(ctx context.Context, userID string) error
	DeleteUser(ctx context.Context, id string, now time.Time) error
	EnqueueMail(ctx context.Context, m storage.OutboxMail) (storage.OutboxMail, error)
	SetMFAPolicyAndMethods(ctx context.Context, tenantID string, enabled bool, methods []string, ev storage.AuditEvent) (before, after storage.Tenant, err error)
}

// FromStorage adapts a *storage.Store to Store.
func FromStorage(st *storage.Store) Store { return storeAdapter{st} }

type storeAdapter struct{ *storage.Store }

func (a storeAdapter) InTx(ctx context.Context, fn func(tx Tx) error) error {
	return a.Store.InTx(ctx, func(tx *storage.Store) error { return fn(tx) })
}

// EnrolmentCodes makes the one-time code a user needs to enrol again after a reset (*mfa.Service).
type EnrolmentCodes interface {
	NewEnrolmentCode(user storage.User, createdBy string) (string, storage.EnrolmentCode, error)
}

// Hasher hashes new passwords (*secret.Hasher: bounded argon2id, secret.ErrBusy under load).
type Hasher interface {
	Hash(ctx context.Context, pw string) (string, error)
}

// Passwords checks a new password (*pwpolicy.Policy).
type Passwords interface {
	Check(pw, email, tenantName string) error
}

// Service performs the tenant-admin operations. Its fields are its dependencies.
type Service struct {
	Store     Store
	Enrolment EnrolmentCodes
	Hasher    Hasher
	Accounts  AccountMail // invitations and reset mails (invite.go); nil where mail is not wired
	Passwords Passwords   // the rule for new passwords (*pwpolicy.Policy); nil: length only
	Issuer    string      // links in notifications point here; "" sends no notifications (notify.go)
	Now       func() time.Time
}

// Actor is who asks for a change, as the audit trail records it.
type Actor struct {
	ID      string // a user id, a service client id, or a name such as "cli"
	Email   string // a user's email, added to the detail; "" otherwise
	Address string // the client address, or a name such as "cli"
}

// event is an audit event by actor on target at the service's now.
func (s *Service) event(a Actor, tenantID, action, target string, detail map[string]any) storage.AuditEvent {
	if detail == nil {
		detail = map[string]any{}
	}
	if a.Email != "" {
		detail["actor_email"] = a.Email
	}
	return storage.AuditEvent{TenantID: tenantID, ActorID: a.ID, Action: action, TargetID: target, Address: a.Address,
		Detail: detail, CreatedAt: s.Now()}
}

// Tenant finds a tenant by slug or id.
func (s *Service) Tenant(ctx context.Context, ref string) (storage.Tenant, error) {
	return s.Store.TenantByRef(ctx, ref)
}

// Tenants lists every tenant.
func (s *Service) Tenants(ctx context.Context) ([]storage.Tenant, error) {
	return s.Store.ListTenants(ctx)
}

// CreateTenant creates a tenant (its slug is checked by the caller) with the policy off.
func (s *Service) CreateTenant(ctx context.Context, a Actor, slug, name string) (storage.Tenant, error) {
	if slug == "" || name == "" {
		return storage.Tenant{}, invalid("a tenant needs a slug and a name")
	}
	var t storage.Tenant
	err := s.Store.InTx(ctx, func(tx Tx) error {
		var err error
		if t, err = tx.CreateTenant(ctx, storage.Tenant{Slug: slug, Name: name, CreatedAt: s.Now()}); err != nil {
			return err
		}
		return tx.AddAudit(ctx, s.event(a, t.ID, AuditTenantCreated, t.ID, map[string]any{"slug": t.Slug, "name": t.Name}))
	})
	return t, err
}

// SetMFAPolicy turns the tenant's second-factor requirement on or off and, when methods is not nil,
// sets the second factors it allows (ParseMethods): one change with one audit event and one notice to
// the admins. Setting the value it already has still records who asked.
func (s *Service) SetMFAPolicy(ctx context.Context, a Actor, tenantID string, enabled bool, methods []string) (before, after storage.Tenant, err error) {
	if methods != nil {
		if methods, err = ParseMethods(methods); err != nil {
			return before, after, err
		}
	}
	var admins []storage.User
	if s.Issuer != "" {
		if admins, err = s.activeAdmins(ctx, tenantID); err != nil {
			return before, after, err
		}
	}
	err = s.Store.InTx(ctx, func(tx Tx) error {
		var err error
		if before, after, err = tx.SetMFAPolicyAndMethods(ctx, tenantID, enabled, methods, s.event(a, tenantID, AuditPolicyChanged, tenantID, nil)); err != nil {
			return err
		}
		if s.Issuer == "" {
			return nil
		}
		return s.notifyPolicy(ctx, tx, a, after, admins) // notify.go
	})
	return before, after, err
}

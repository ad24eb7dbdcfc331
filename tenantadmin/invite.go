package tenantadmin

import (
	"context"
	"net/mail"

	"github.com/portcullis/portcullis/lifecycle"
	"github.com/portcullis/portcullis/storage"
)

// Audit event names of the account lifecycle by email (written by package lifecycle, or here):
//
//	user.invited                  an invitation link was sent          detail: email, invitation_id
//	user.invitation_revoked       an invitation was revoked            detail: invitation_id
//	user.invitation_accepted      the user chose their first password
//	user.password_reset_sent      an admin sent a reset email
//	user.password_reset_requested the user asked for a reset email ("forgot password")
//	user.password_reset           the user set a new password from a reset link
//	user.password_set             an operator set a password (CLI break-glass)
//	user.deleted                  a user was deleted                   detail: email, role
const (
	AuditPasswordSet = "user.password_set"
	AuditUserDeleted = "user.deleted"
)

// AccountMail is the account lifecycle by email (*lifecycle.Service): links and the mail that
// carries them, written with the change in one transaction.
type AccountMail interface {
	Invite(ctx context.Context, tenant storage.Tenant, email, name, role string, by lifecycle.Actor) (lifecycle.Invitation, error)
	Invitations(ctx context.Context, tenantID string) ([]lifecycle.Invitation, error)
	ResendInvitation(ctx context.Context, tenant storage.Tenant, id string, by lifecycle.Actor) (lifecycle.Invitation, error)
	RevokeInvitation(ctx context.Context, tenant storage.Tenant, id string, by lifecycle.Actor, keep lifecycle.RevokeGuard) error
	SendReset(ctx context.Context, tenant storage.Tenant, u storage.User, by lifecycle.Actor) error
}

func (a Actor) lifecycle() lifecycle.Actor { return lifecycle.Actor{ID: a.ID, Address: a.Address} }

// Invite creates a user without a password and emails them a link to choose one (7 days by default).
func (s *Service) Invite(ctx context.Context, a Actor, tenant storage.Tenant, email, name, role string) (lifecycle.Invitation, error) {
	if role == "" {
		role = RoleMember
	}
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email || len(email) > 320 {
		return lifecycle.Invitation{}, invalid("email: a plain address is required")
	}
	if !ValidRole(role) {
		return lifecycle.Invitation{}, invalid("role: admin or member")
	}
	if len(name) > maxNameLen {
		return lifecycle.Invitation{}, invalid("name: at most %d characters", maxNameLen)
	}
	return s.Accounts.Invite(ctx, tenant, storage.NormalizeEmail(email), name, role, a.lifecycle())
}

// Invitations lists the tenant's open invitations.
func (s *Service) Invitations(ctx context.Context, tenantID string) ([]lifecycle.Invitation, error) {
	return s.Accounts.Invitations(ctx, tenantID)
}

// ResendInvitation sends a new link for the invitation; the old one stops working.
func (s *Service) ResendInvitation(ctx context.Context, a Actor, tenant storage.Tenant, id string) (lifecycle.Invitation, error) {
	return s.Accounts.ResendInvitation(ctx, tenant, id, a.lifecycle())
}

// RevokeInvitation ends the invitation and deletes the user who never accepted it. An invited admin
// is one of the tenant's active admins: the last one's invitation is not revoked (ErrLastAdmin).
func (s *Service) RevokeInvitation(ctx context.Context, a Actor, tenant storage.Tenant, id string) error {
	return s.Accounts.RevokeInvitation(ctx, tenant, id, a.lifecycle(), func(tx *storage.Store, invited storage.User) error {
		u, err := lockedUser(ctx, tx, tenant.ID, invited.ID) // users.go
		if err != nil || !activeAdmin(u) {
			return err
		}
		// Counted before the deletion: the invited admin is one of n.
		n, err := tx.CountActiveAdmins(ctx, tenant.ID)
		if err != nil {
			return err
		}
		if n <= 1 {
			return ErrLastAdmin
		}
		return nil
	})
}

// SendReset emails the tenant's user a password-reset link.
func (s *Service) SendReset(ctx context.Context, a Actor, tenant storage.Tenant, userID string) error {
	u, err := s.User(ctx, tenant.ID, userID)
	if err != nil {
		return err
	}
	return s.Accounts.SendReset(ctx, tenant, u, a.lifecycle())
}

package lifecycle

import (
	"context"
	"errors"
	"fmt"

	"github.com/portcullis/portcullis/mail"
	"github.com/portcullis/portcullis/storage"
)

// Invitation is an open invitation: its link (never its token) and the invited user.
type Invitation struct {
	Link storage.EmailLink
	User storage.User
}

// Invite creates the user without a password and writes the invitation link, its mail and the audit
// events (user.created, user.invited) in one transaction. The caller has checked email, role and name.
func (s *Service) Invite(ctx context.Context, tenant storage.Tenant, email, name, role string, by Actor) (Invitation, error) {
	var inv Invitation
	err := s.Store.InTx(ctx, func(tx *storage.Store) error {
		u, err := tx.CreateUser(ctx, storage.User{TenantID: tenant.ID, Email: email, Name: name, Role: role, CreatedAt: s.Now()})
		if err != nil {
			return err
		}
		if err := s.audit(ctx, tx, tenant.ID, by.ID, u.ID, "user.created", by.Address, map[string]any{"email": u.Email, "role": u.Role, "invited": true}); err != nil {
			return err
		}
		inv.User = u
		inv.Link, err = s.sendInvitation(ctx, tx, tenant, u, by)
		return err
	})
	return inv, err
}

func (s *Service) sendInvitation(ctx context.Context, tx *storage.Store, tenant storage.Tenant, u storage.User, by Actor) (storage.EmailLink, error) {
	token, err := s.newLink(ctx, tx, storage.LinkInvitation, u, by.ID, s.InviteTTL)
	if err != nil {
		return storage.EmailLink{}, err
	}
	l, err := tx.LinkByHash(ctx, storage.LinkInvitation, s.Hash.Sum(storage.LinkInvitation+"\x00"+token))
	if err != nil {
		return storage.EmailLink{}, err
	}
	if err := s.audit(ctx, tx, tenant.ID, by.ID, u.ID, "user.invited", by.Address, map[string]any{"email": u.Email, "invitation_id": l.ID}); err != nil {
		return storage.EmailLink{}, err
	}
	return l, s.enqueue(ctx, tx, mail.Message{Kind: mail.KindInvitation, TenantID: tenant.ID, TenantName: tenant.Name, UserID: u.ID,
		To: u.Email, Subject: "You are invited", Paragraphs: []string{"You are invited to sign in to " + tenant.Name + " as " + u.Email + "."},
		Link: s.link("/login/invite", token), LinkLabel: "Choose your password (the link works once, for " + human(s.InviteTTL) + ")",
		After: []string{"If you did not expect this invitation, ignore this message."}})
}

// Invitations lists the tenant's open invitations, newest first.
func (s *Service) Invitations(ctx context.Context, tenantID string) ([]Invitation, error) {
	links, err := s.Store.OpenLinks(ctx, tenantID, storage.LinkInvitation, s.Now())
	if err != nil {
		return nil, err
	}
	out := make([]Invitation, 0, len(links))
	for _, l := range links {
		u, err := s.Store.UserByID(ctx, l.UserID)
		if err != nil {
			continue
		}
		out = append(out, Invitation{Link: l, User: u})
	}
	return out, nil
}

// invitation finds the tenant's invitation by link id (open or not).
func (s *Service) invitation(ctx context.Context, tenantID, id string) (storage.EmailLink, storage.User, error) {
	l, err := s.Store.LinkByID(ctx, id)
	if err != nil {
		return l, storage.User{}, err
	}
	if l.TenantID != tenantID || l.Purpose != storage.LinkInvitation {
		return l, storage.User{}, fmt.Errorf("invitation %s: %w", id, storage.ErrNotFound)
	}
	u, err := s.Store.UserByID(ctx, l.UserID)
	return l, u, err
}

// ErrAccepted refuses to resend or revoke an invitation that was accepted.
var ErrAccepted = errors.New("the invitation was accepted")

// ResendInvitation revokes the invitation's link and sends a new one (a new id), in one transaction.
// The transaction locks the user's row first (LockUser): parallel resends run one after another, each
// revoking the link of the one before (one open link remains), and a resend that finds the invitation
// accepted meanwhile sends nothing (ErrAccepted).
func (s *Service) ResendInvitation(ctx context.Context, tenant storage.Tenant, id string, by Actor) (Invitation, error) {
	_, u, err := s.invitation(ctx, tenant.ID, id)
	if err != nil {
		return Invitation{}, err
	}
	if u.PasswordHash != "" {
		return Invitation{}, ErrAccepted
	}
	inv := Invitation{User: u}
	err = s.Store.InTx(ctx, func(tx *storage.Store) error {
		locked, err := tx.LockUser(ctx, u.ID)
		if err != nil {
			return err
		}
		if locked.PasswordHash != "" {
			return ErrAccepted
		}
		if err := tx.RevokeLinks(ctx, u.ID, storage.LinkInvitation, s.Now()); err != nil {
			return err
		}
		inv.Link, err = s.sendInvitation(ctx, tx, tenant, u, by)
		return err
	})
	return inv, err
}

// RevokeGuard runs first in the transaction that revokes an invitation, with the invited user as
// read before it; its error refuses the revocation and writes nothing. The tenant-admin service keeps
// a tenant's last active admin with it.
type RevokeGuard func(tx *storage.Store, invited storage.User) error

// RevokeInvitation ends the invitation: its link stops working and the user, who never chose a
// password, is deleted, with the audit event, in one transaction, unless keep (when not nil) refuses.
func (s *Service) RevokeInvitation(ctx context.Context, tenant storage.Tenant, id string, by Actor, keep RevokeGuard) error {
	_, u, err := s.invitation(ctx, tenant.ID, id)
	if err != nil {
		return err
	}
	if u.PasswordHash != "" {
		return ErrAccepted
	}
	return s.Store.InTx(ctx, func(tx *storage.Store) error {
		if keep != nil { // first: it locks the tenant, which every path locks before a user
			if err := keep(tx, u); err != nil {
				return err
			}
		}
		// Accepted since the read above? Then the user chose a password and stays (the acceptance's
		// transaction writes the user's row, so this lock waits for it and reads what it left).
		locked, err := tx.LockUser(ctx, u.ID)
		if err != nil {
			return err
		}
		if locked.PasswordHash != "" {
			return ErrAccepted
		}
		if err := s.audit(ctx, tx, tenant.ID, by.ID, u.ID, "user.invitation_revoked", by.Address, map[string]any{"invitation_id": id}); err != nil {
			return err
		}
		return tx.DeleteUser(ctx, u.ID, s.Now())
	})
}

// InvitationLink checks an invitation token without spending it.
func (s *Service) InvitationLink(ctx context.Context, token string) (storage.User, storage.Tenant, error) {
	_, u, t, err := s.lookup(ctx, storage.LinkInvitation, token)
	return u, t, err
}

// AcceptInvitation spends the link and sets the user's first password (and email_verified), with the
// audit event, in one transaction. A refused password is a *pwpolicy.Error and spends nothing.
func (s *Service) AcceptInvitation(ctx context.Context, token, password string, by Actor) (storage.User, error) {
	u, err := s.redeemWithPassword(ctx, storage.LinkInvitation, token, password, func(tx *storage.Store, u storage.User, t storage.Tenant) error {
		return s.audit(ctx, tx, t.ID, u.ID, u.ID, "user.invitation_accepted", by.Address, nil)
	})
	if err != nil {
		return storage.User{}, err
	}
	return s.Store.UserByID(ctx, u.ID)
}

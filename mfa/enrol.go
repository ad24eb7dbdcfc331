package mfa

import (
	"bytes"
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/boombuler/barcode/qr"

	"github.com/portcullis/portcullis/storage"
)

// qrTargetSize is the approximate width in pixels of the enrolment QR code.
const qrTargetSize = 256

// qrQuietZone is the white border around the QR code, in modules (ISO/IEC 18004 asks for 4).
const qrQuietZone = 4

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Enrolment is what the user needs to add the secret to an authenticator app. It holds the secret: show
// it on the enrolment page only, never log it (LogValue hides it).
type Enrolment struct {
	Secret        string // base32, no padding
	SecretGrouped string // Secret in groups of 4 separated by spaces, for typing
	URI           string // otpauth://totp/...
	QRPNG         []byte // PNG of a QR code of URI
	Issuer        string // as shown in the app (colons removed)
	Account       string // as shown in the app (colons removed)
}

// LogValue keeps the secret out of logs.
func (e Enrolment) LogValue() slog.Value {
	return slog.GroupValue(slog.String("issuer", e.Issuer), slog.String("account", e.Account))
}

// Enrolment returns the TOTP secret pending for this sign-in (authRequestID, which the caller has
// checked is bound to this browser), creating one on first use. Each sign-in gets its own secret: another
// sign-in of the same user can neither see nor replace it. issuer is the name the authenticator app
// displays. It refuses with ErrAlreadyEnrolled when the user has an active authenticator, and with
// ErrEnrolmentCodeRequired (or ErrEnrolmentCodeExpired) when an admin's reset left an enrolment code
// that this sign-in has not presented (see RedeemEnrolmentCode).
func (s *Service) Enrolment(ctx context.Context, user storage.User, authRequestID, issuer string, meta Meta) (Enrolment, error) {
	p, err := s.Store.PendingEnrolment(ctx, authRequestID)
	if err == nil && p.UserID == user.ID {
		return s.enrolmentOf(p, issuer, user)
	}
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return Enrolment{}, fmt.Errorf("enrolment: %w", err)
	}
	if err == nil { // the sign-in changed hands between users: never show another user's secret
		return Enrolment{}, fmt.Errorf("enrolment: %w", ErrNoPendingEnrolment)
	}
	code, err := s.Store.EnrolmentCodeByUser(ctx, user.ID)
	switch {
	case err == nil && !s.now().Before(code.ExpiresAt):
		return Enrolment{}, ErrEnrolmentCodeExpired
	case err == nil:
		return Enrolment{}, ErrEnrolmentCodeRequired
	case !errors.Is(err, storage.ErrNotFound):
		return Enrolment{}, fmt.Errorf("enrolment: %w", err)
	}
	return s.beginSignInEnrolment(ctx, user, authRequestID, issuer, meta)
}

// beginSignInEnrolment makes the pending secret of the sign-in authRequestID.
func (s *Service) beginSignInEnrolment(ctx context.Context, user storage.User, authRequestID, issuer string, meta Meta) (Enrolment, error) {
	return s.beginEnrolment(ctx, user, storage.PendingEnrolment{AuthRequestID: authRequestID},
		func() (storage.PendingEnrolment, error) { return s.Store.PendingEnrolment(ctx, authRequestID) }, issuer, meta, nil)
}

// beginEnrolment makes the pending secret of one sign-in or session: bind holds its AuthRequestID or
// SessionID, and pending reads what a racing request of the same sign-in or session made first.
func (s *Service) beginEnrolment(ctx context.Context, user storage.User, bind storage.PendingEnrolment,
	pending func() (storage.PendingEnrolment, error), issuer string, meta Meta, detail map[string]any) (Enrolment, error) {
	if s.Sealer == nil {
		return Enrolment{}, errors.New("begin enrolment: no sealer configured")
	}
	key := make([]byte, SecretSize)
	if _, err := io.ReadFull(s.rand(), key); err != nil {
		return Enrolment{}, fmt.Errorf("begin enrolment: generate secret: %w", err)
	}
	sealed, err := s.Sealer.Seal(key, []byte(user.ID))
	if err != nil {
		return Enrolment{}, fmt.Errorf("begin enrolment: %w", err)
	}
	p := storage.PendingEnrolment{AuthRequestID: bind.AuthRequestID, SessionID: bind.SessionID, UserID: user.ID, TenantID: user.TenantID,
		SecretSealed: sealed, CreatedAt: s.now()}
	err = s.Store.CreatePendingEnrolment(ctx, p)
	switch {
	case errors.Is(err, storage.ErrConflict):
		return Enrolment{}, ErrAlreadyEnrolled
	case errors.Is(err, storage.ErrAlreadyExists): // a racing request of the same sign-in made one first
		if p, err = pending(); err != nil {
			return Enrolment{}, fmt.Errorf("begin enrolment: %w", err)
		}
		if p.UserID != user.ID {
			return Enrolment{}, fmt.Errorf("begin enrolment: %w", ErrNoPendingEnrolment)
		}
		return s.enrolmentOf(p, issuer, user)
	case err != nil:
		return Enrolment{}, fmt.Errorf("begin enrolment: %w", err)
	}
	en, err := newEnrolment(key, issuer, user.Email)
	if err != nil {
		return Enrolment{}, fmt.Errorf("begin enrolment: %w", err)
	}
	s.audit(ctx, user, AuditEnrolmentStarted, meta, detail)
	return en, nil
}

func (s *Service) enrolmentOf(p storage.PendingEnrolment, issuer string, user storage.User) (Enrolment, error) {
	key, err := s.Sealer.Open(p.SecretSealed, []byte(p.UserID))
	if err != nil {
		return Enrolment{}, fmt.Errorf("open pending totp secret: %w", err)
	}
	en, err := newEnrolment(key, issuer, user.Email)
	if err != nil {
		return Enrolment{}, fmt.Errorf("pending enrolment: %w", err)
	}
	return en, nil
}

// ConfirmEnrolment activates the secret pending for this sign-in when code is right for it (window ±1
// step), and returns ten new recovery codes in plain text, once. Activation ends every other pending
// enrolment of the user and spends the enrolment code, so nothing pending remains; only one enrolment
// can ever become active. A wrong code counts on the OTP throttle and returns ErrInvalidCode (or the
// *throttle.LockedError of a lockout); the enrolment stays pending.
func (s *Service) ConfirmEnrolment(ctx context.Context, user storage.User, authRequestID, code string, meta Meta) ([]string, error) {
	codes, _, err := s.ConfirmSignInEnrolment(ctx, user, authRequestID, code, meta)
	return codes, err
}

// ConfirmSignInEnrolment is ConfirmEnrolment that also returns the authenticator it activated: the
// sign-in records the code it proved on condition that this authenticator is still the user's
// (storage.Proof), so an app replaced or reset a moment after its enrolment signs nobody in.
func (s *Service) ConfirmSignInEnrolment(ctx context.Context, user storage.User, authRequestID, code string, meta Meta) ([]string, storage.Authenticator, error) {
	return s.confirm(ctx, user, func() (storage.PendingEnrolment, error) { return s.Store.PendingEnrolment(ctx, authRequestID) },
		code, meta, storage.Activation{}, map[string]any{"factor": FactorOTP})
}

// confirm checks code against the secret that pending returns (throttled as every code), and activates
// it with act's replacement and session options; detail goes into the audit event (and its mail). It
// returns the recovery codes and the authenticator it activated.
func (s *Service) confirm(ctx context.Context, user storage.User, pending func() (storage.PendingEnrolment, error), code string, meta Meta,
	act storage.Activation, detail map[string]any) ([]string, storage.Authenticator, error) {
	att, err := s.begin(ctx, user)
	if err != nil {
		return nil, storage.Authenticator{}, err
	}
	defer att.ReleaseLogged(ctx, s.log())
	p, err := pending()
	if errors.Is(err, storage.ErrNotFound) || (err == nil && p.UserID != user.ID) {
		return nil, storage.Authenticator{}, fmt.Errorf("confirm enrolment: %w", ErrNoPendingEnrolment)
	}
	if err != nil {
		return nil, storage.Authenticator{}, fmt.Errorf("confirm enrolment: %w", err)
	}
	code, ok := normaliseCode(code)
	if !ok {
		return nil, storage.Authenticator{}, s.refuse(ctx, user, att, meta, AuditCodeRefused, FactorOTP, ErrInvalidCode)
	}
	key, err := s.Sealer.Open(p.SecretSealed, []byte(p.UserID))
	if err != nil {
		return nil, storage.Authenticator{}, fmt.Errorf("confirm enrolment: %w", err)
	}
	now := s.now()
	step, ok, err := matchStep(key, code, now)
	if err != nil {
		return nil, storage.Authenticator{}, fmt.Errorf("confirm enrolment: %w", err)
	}
	if !ok {
		return nil, storage.Authenticator{}, s.refuse(ctx, user, att, meta, AuditCodeRefused, FactorOTP, ErrInvalidCode)
	}
	plain, hashed, err := s.newRecoveryCodes()
	if err != nil {
		return nil, storage.Authenticator{}, fmt.Errorf("confirm enrolment: %w", err)
	}
	// The step is stored as the new authenticator's last step: the code that confirmed it cannot sign in.
	act.PendingID, act.Step, act.Now, act.ClientID, act.Address, act.Codes = p.ID, step, now, meta.ClientID, meta.Address, hashed
	act.Record = s.record(ctx, user, AuditEnrolmentConfirmed, meta, detail)
	a, err := s.Store.ActivateAuthenticator(ctx, act)
	switch {
	case errors.Is(err, storage.ErrConflict):
		return nil, storage.Authenticator{}, fmt.Errorf("confirm enrolment: %w", ErrAlreadyEnrolled) // another enrolment won
	case errors.Is(err, storage.ErrNotFound):
		return nil, storage.Authenticator{}, fmt.Errorf("confirm enrolment: %w", ErrNoPendingEnrolment) // ended by a reset or a winner
	case err != nil:
		return nil, storage.Authenticator{}, fmt.Errorf("confirm enrolment: %w", err)
	}
	s.succeed(ctx, user, att)
	return plain, a, nil
}

// newEnrolment builds the enrolment page data for a secret.
func newEnrolment(key []byte, issuer, account string) (Enrolment, error) {
	en := Enrolment{Secret: b32.EncodeToString(key), Issuer: labelPart(issuer), Account: labelPart(account)}
	en.SecretGrouped = group(en.Secret, 4)
	en.URI = otpauthURI(en.Secret, en.Issuer, en.Account)
	png, err := qrPNG(en.URI)
	if err != nil {
		return Enrolment{}, err
	}
	en.QRPNG = png
	return en, nil
}

// otpauthURI is otpauth://totp/<Issuer>:<account>?secret=..&issuer=<Issuer>&algorithm=SHA1&digits=6&period=30
// with issuer and account percent-encoded (a space is %20). Both must already be free of colons.
func otpauthURI(secret, issuer, account string) string {
	label := escape(account, true)
	if issuer != "" {
		label = escape(issuer, true) + ":" + label
	}
	var b strings.Builder
	b.WriteString("otpauth://totp/")
	b.WriteString(label)
	b.WriteString("?secret=")
	b.WriteString(secret)
	if issuer != "" {
		b.WriteString("&issuer=")
		b.WriteString(escape(issuer, false))
	}
	b.WriteString("&algorithm=" + Algorithm.String())
	b.WriteString("&digits=" + strconv.Itoa(Digits))
	b.WriteString("&period=" + strconv.Itoa(Period))
	return b.String()
}

// labelPart prepares an issuer or account name for the otpauth label: colons (the label separator,
// which some apps reject anywhere else) become spaces, and runs of white space collapse to one.
func labelPart(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, ":", " ")), " ")
}

// escape percent-encodes every byte except RFC 3986 unreserved characters (and '@' in the label path,
// where it is allowed and where apps show it literally). Spaces become %20, never '+'.
func escape(s string, inPath bool) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', inPath && c == '@':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// group splits s into groups of n separated by spaces.
func group(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s); i += n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+n, len(s))])
	}
	return b.String()
}

// qrPNG renders content as a QR code PNG of about qrTargetSize pixels, with a quiet zone, each module an
// integral number of pixels so it stays sharp.
func qrPNG(content string) ([]byte, error) {
	code, err := qr.Encode(content, qr.M, qr.Auto)
	if err != nil {
		return nil, fmt.Errorf("encode qr code: %w", err)
	}
	n := code.Bounds().Dx()
	total := n + 2*qrQuietZone
	scale := max(1, (qrTargetSize+total/2)/total)
	img := image.NewPaletted(image.Rect(0, 0, total*scale, total*scale), color.Palette{color.White, color.Black})
	for y := range n {
		for x := range n {
			if r, _, _, _ := code.At(code.Bounds().Min.X+x, code.Bounds().Min.Y+y).RGBA(); r != 0 {
				continue // light module
			}
			x0, y0 := (x+qrQuietZone)*scale, (y+qrQuietZone)*scale
			for dy := range scale {
				for dx := range scale {
					img.SetColorIndex(x0+dx, y0+dy, 1)
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode qr png: %w", err)
	}
	return buf.Bytes(), nil
}

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

// BeginEnrolment creates a new pending TOTP secret for user, replacing any earlier pending one, and
// returns what the enrolment page shows. issuer is the name the authenticator app displays (for example
// the tenant's name). It refuses with ErrAlreadyEnrolled when the user has an active authenticator.
func (s *Service) BeginEnrolment(ctx context.Context, user storage.User, issuer string, meta Meta) (Enrolment, error) {
	a, err := s.Store.AuthenticatorByUser(ctx, user.ID)
	switch {
	case err == nil && a.State == storage.AuthenticatorActive:
		return Enrolment{}, ErrAlreadyEnrolled
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return Enrolment{}, fmt.Errorf("begin enrolment: %w", err)
	}
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
	en, err := newEnrolment(key, issuer, user.Email)
	if err != nil {
		return Enrolment{}, fmt.Errorf("begin enrolment: %w", err)
	}
	err = s.Store.PutPendingAuthenticator(ctx, storage.Authenticator{UserID: user.ID, TenantID: user.TenantID,
		SecretSealed: sealed, State: storage.AuthenticatorPending, CreatedAt: s.now()})
	if errors.Is(err, storage.ErrConflict) {
		return Enrolment{}, ErrAlreadyEnrolled // a racing enrolment was confirmed first
	}
	if err != nil {
		return Enrolment{}, fmt.Errorf("begin enrolment: %w", err)
	}
	s.audit(ctx, user, AuditEnrolmentStarted, meta, nil)
	return en, nil
}

// CurrentEnrolment returns the user's pending enrolment again (for a page reload). It returns
// ErrNoPendingEnrolment when there is none, and ErrAlreadyEnrolled when the authenticator is active.
func (s *Service) CurrentEnrolment(ctx context.Context, user storage.User, issuer string) (Enrolment, error) {
	a, err := s.pending(ctx, user)
	if err != nil {
		return Enrolment{}, fmt.Errorf("current enrolment: %w", err)
	}
	key, err := s.openSecret(a)
	if err != nil {
		return Enrolment{}, fmt.Errorf("current enrolment: %w", err)
	}
	en, err := newEnrolment(key, issuer, user.Email)
	if err != nil {
		return Enrolment{}, fmt.Errorf("current enrolment: %w", err)
	}
	return en, nil
}

// pending returns the user's pending authenticator, or ErrNoPendingEnrolment / ErrAlreadyEnrolled.
func (s *Service) pending(ctx context.Context, user storage.User) (storage.Authenticator, error) {
	a, err := s.Store.AuthenticatorByUser(ctx, user.ID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return storage.Authenticator{}, ErrNoPendingEnrolment
	case err != nil:
		return storage.Authenticator{}, err
	case a.State == storage.AuthenticatorActive:
		return storage.Authenticator{}, ErrAlreadyEnrolled
	case a.State != storage.AuthenticatorPending:
		return storage.Authenticator{}, ErrNoPendingEnrolment
	}
	return a, nil
}

// ConfirmEnrolment activates the user's pending authenticator when code is right for it (window ±1
// step), and returns ten new recovery codes in plain text, once. A wrong code counts on the OTP throttle
// and returns ErrInvalidCode (or the *throttle.LockedError of a lockout); the enrolment stays pending.
func (s *Service) ConfirmEnrolment(ctx context.Context, user storage.User, code string, meta Meta) ([]string, error) {
	lim := s.limiter()
	if err := lim.Check(ctx, otpKey(user)); err != nil {
		return nil, err
	}
	a, err := s.pending(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("confirm enrolment: %w", err)
	}
	code, ok := normaliseCode(code)
	if !ok {
		return nil, s.refuse(ctx, user, meta, AuditCodeRefused, storage.FactorOTP, ErrInvalidCode)
	}
	key, err := s.openSecret(a)
	if err != nil {
		return nil, fmt.Errorf("confirm enrolment: %w", err)
	}
	now := s.now()
	step, ok, err := matchStep(key, code, now)
	if err != nil {
		return nil, fmt.Errorf("confirm enrolment: %w", err)
	}
	if !ok {
		return nil, s.refuse(ctx, user, meta, AuditCodeRefused, storage.FactorOTP, ErrInvalidCode)
	}
	plain, hashed, err := s.newRecoveryCodes()
	if err != nil {
		return nil, fmt.Errorf("confirm enrolment: %w", err)
	}
	if err := s.Store.ActivateAuthenticator(ctx, a.ID, step, now, hashed); err != nil {
		if errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrNotFound) {
			// Confirmed by a racing request, or replaced by a newer enrolment in another tab.
			return nil, fmt.Errorf("confirm enrolment: %w", ErrNoPendingEnrolment)
		}
		return nil, fmt.Errorf("confirm enrolment: %w", err)
	}
	s.succeed(ctx, user, meta, AuditEnrolmentConfirmed, map[string]any{"factor": storage.FactorOTP})
	return plain, nil
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

package mfa

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"image/png"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/pquerna/otp"

	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

func TestOtpauthURI(t *testing.T) {
	const sec = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	tests := []struct {
		name        string
		issuer      string
		account     string
		want        string
		wantIssuer  string
		wantAccount string
	}{
		{name: "plain", issuer: "Acme", account: "alice@example.com",
			want:       "otpauth://totp/Acme:alice@example.com?secret=" + sec + "&issuer=Acme&algorithm=SHA1&digits=6&period=30",
			wantIssuer: "Acme", wantAccount: "alice@example.com"},
		{name: "spaces and colon", issuer: "Acme Corp: EU", account: "alice@example.com",
			want:       "otpauth://totp/Acme%20Corp%20EU:alice@example.com?secret=" + sec + "&issuer=Acme%20Corp%20EU&algorithm=SHA1&digits=6&period=30",
			wantIssuer: "Acme Corp EU", wantAccount: "alice@example.com"},
		{name: "colon without spaces", issuer: "Acme:EU", account: "a:b@example.com",
			want:       "otpauth://totp/Acme%20EU:a%20b@example.com?secret=" + sec + "&issuer=Acme%20EU&algorithm=SHA1&digits=6&period=30",
			wantIssuer: "Acme EU", wantAccount: "a b@example.com"},
		{name: "query metacharacters", issuer: "A&B+C=D?#/", account: "x+tag@example.com",
			want:       "otpauth://totp/A%26B%2BC%3DD%3F%23%2F:x%2Btag@example.com?secret=" + sec + "&issuer=A%26B%2BC%3DD%3F%23%2F&algorithm=SHA1&digits=6&period=30",
			wantIssuer: "A&B+C=D?#/", wantAccount: "x+tag@example.com"},
		{name: "unicode", issuer: "Zürich AG", account: "zoë@example.com",
			want:       "otpauth://totp/Z%C3%BCrich%20AG:zo%C3%AB@example.com?secret=" + sec + "&issuer=Z%C3%BCrich%20AG&algorithm=SHA1&digits=6&period=30",
			wantIssuer: "Zürich AG", wantAccount: "zoë@example.com"},
		{name: "surrounding space collapsed", issuer: "  Acme   Corp ", account: "alice@example.com",
			want:       "otpauth://totp/Acme%20Corp:alice@example.com?secret=" + sec + "&issuer=Acme%20Corp&algorithm=SHA1&digits=6&period=30",
			wantIssuer: "Acme Corp", wantAccount: "alice@example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			en, err := newEnrolment(seedSHA1, tc.issuer, tc.account)
			if err != nil {
				t.Fatal(err)
			}
			if en.URI != tc.want {
				t.Errorf("URI =\n %s\nwant\n %s", en.URI, tc.want)
			}
			if en.Issuer != tc.wantIssuer || en.Account != tc.wantAccount {
				t.Errorf("Issuer, Account = %q, %q; want %q, %q", en.Issuer, en.Account, tc.wantIssuer, tc.wantAccount)
			}
			// What an authenticator app reads back.
			u, err := url.Parse(en.URI)
			if err != nil {
				t.Fatalf("parse URI: %v", err)
			}
			if strings.Count(u.Path, ":") != 1 || strings.Contains(en.URI, "+") {
				t.Errorf("URI %q: want exactly one colon in the label and no '+'", en.URI)
			}
			k, err := otp.NewKeyFromURL(en.URI)
			if err != nil {
				t.Fatalf("otp.NewKeyFromURL: %v", err)
			}
			if k.Issuer() != tc.wantIssuer || k.AccountName() != tc.wantAccount || k.Secret() != sec ||
				k.Period() != 30 || k.Digits() != otp.DigitsSix || k.Algorithm() != otp.AlgorithmSHA1 {
				t.Errorf("parsed key: issuer %q account %q secret %q period %d digits %v alg %v",
					k.Issuer(), k.AccountName(), k.Secret(), k.Period(), k.Digits(), k.Algorithm())
			}
		})
	}
}

func TestSecretGrouped(t *testing.T) {
	en, err := newEnrolment(seedSHA1, "Acme", "a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if want := "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"; en.SecretGrouped != want {
		t.Errorf("SecretGrouped = %q, want %q", en.SecretGrouped, want)
	}
	for _, tc := range []struct{ in, want string }{{"", ""}, {"ABC", "ABC"}, {"ABCDE", "ABCD E"}, {"ABCDEFGH", "ABCD EFGH"}} {
		if got := group(tc.in, 4); got != tc.want {
			t.Errorf("group(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestQRPNGDecodesToURI(t *testing.T) {
	tests := []struct {
		name    string
		issuer  string
		account string
	}{
		{name: "plain", issuer: "Acme", account: "alice@example.com"},
		{name: "spaces and colon", issuer: "Acme Corp: EU", account: "alice@example.com"},
		{name: "long", issuer: strings.Repeat("Very Long Tenant Name ", 4), account: "someone.with.a.long.name@subdomain.example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			en, err := newEnrolment(randomKey(t), tc.issuer, tc.account)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(en.QRPNG))
			if err != nil {
				t.Fatalf("QRPNG is not a PNG: %v", err)
			}
			if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w != h || w < 200 || w > 320 {
				t.Errorf("QR image is %dx%d, want square and about 256 px", w, h)
			}
			// The quiet zone: the border is white.
			if r, _, _, _ := img.At(2, 2).RGBA(); r == 0 {
				t.Error("QR image has no quiet zone")
			}
			bmp, err := gozxing.NewBinaryBitmapFromImage(img)
			if err != nil {
				t.Fatal(err)
			}
			res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
			if err != nil {
				t.Fatalf("decode QR: %v", err)
			}
			if res.GetText() != en.URI {
				t.Errorf("QR text = %q, want %q", res.GetText(), en.URI)
			}
		})
	}
}

func TestEnrolmentLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newSQLiteFixture(t)
	user := f.user(t, "alice@example.com")
	meta := Meta{Address: "192.0.2.7", ClientID: "app"}

	req := f.signIn(t, user)
	if _, err := f.svc.ConfirmEnrolment(ctx, user, req, "123456", meta); !errors.Is(err, ErrNoPendingEnrolment) {
		t.Fatalf("ConfirmEnrolment before begin = %v, want ErrNoPendingEnrolment", err)
	}
	// Another sign-in of the same user (another tab, or a password thief) gets a secret of its own.
	otherReq := f.signIn(t, user)
	first, err := f.svc.Enrolment(ctx, user, otherReq, "Acme", Meta{})
	if err != nil {
		t.Fatal(err)
	}
	en, err := f.svc.Enrolment(ctx, user, req, "Acme", Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if en.Secret == first.Secret {
		t.Fatal("two sign-ins were shown the same secret")
	}
	again, err := f.svc.Enrolment(ctx, user, req, "Acme", Meta{})
	if err != nil || again.Secret != en.Secret || again.URI != en.URI {
		t.Fatalf("Enrolment again = %+v, %v; want the same secret for the same sign-in", again, err)
	}
	if again, err := f.svc.Enrolment(ctx, user, otherReq, "Acme", Meta{}); err != nil || again.Secret != first.Secret {
		t.Fatalf("the other sign-in's secret changed: %v", err)
	}
	if len(en.Secret) != 32 {
		t.Errorf("secret %d base32 characters, want 32 (160 bits)", len(en.Secret))
	}
	key, err := b32.DecodeString(en.Secret)
	if err != nil {
		t.Fatal(err)
	}
	oldKey, _ := b32.DecodeString(first.Secret)

	steps := []struct {
		name      string
		code      string
		wantErr   error
		wantState string
	}{
		{name: "malformed", code: "12ab56", wantErr: ErrInvalidCode, wantState: "pending"},
		{name: "wrong code", code: wrongCode(t, key, f.clk.Now()), wantErr: ErrInvalidCode, wantState: "pending"},
		{name: "code of the other sign-in's secret", code: mustCode(t, oldKey, f.clk.Now()), wantErr: ErrInvalidCode, wantState: "pending"},
		{name: "right code", code: mustCode(t, key, f.clk.Now()), wantState: "active"},
	}
	var codes []string
	for i, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			// Wait out the throttle's short delays, staying in the step of t0.
			f.clk.Set(t0.Add(time.Duration(i) * 5 * time.Second))
			got, err := f.svc.ConfirmEnrolment(ctx, user, req, s.code, meta)
			if !errors.Is(err, s.wantErr) || (s.wantErr == nil && err != nil) {
				t.Fatalf("ConfirmEnrolment = %v, want %v", err, s.wantErr)
			}
			if st, _ := f.svc.Status(ctx, user.ID); st != s.wantState {
				t.Fatalf("state = %q, want %q", st, s.wantState)
			}
			codes = got
		})
	}
	if len(codes) != RecoveryCodeCount {
		t.Fatalf("%d recovery codes, want %d", len(codes), RecoveryCodeCount)
	}
	a, err := f.st.AuthenticatorByUser(ctx, user.ID)
	if err != nil || a.LastStep != Step(t0) || a.ConfirmedAt == nil {
		t.Fatalf("authenticator = %+v, %v; want confirmed with last step %d", a, err, Step(t0))
	}
	// The confirming code is spent: it cannot sign in again.
	if err := f.svc.Verify(ctx, user, mustCode(t, key, t0), meta); !errors.Is(err, ErrReplay) {
		t.Errorf("Verify with the confirming code = %v, want ErrReplay", err)
	}
	if a.EnrolledClientID != "app" || a.EnrolledAddress != "192.0.2.7" {
		t.Errorf("enrolled from %q %q, want the sign-in's client and address", a.EnrolledClientID, a.EnrolledAddress)
	}
	if _, err := f.svc.Enrolment(ctx, user, f.signIn(t, user), "Acme", Meta{}); !errors.Is(err, ErrAlreadyEnrolled) {
		t.Errorf("Enrolment of a new sign-in when active = %v, want ErrAlreadyEnrolled", err)
	}
	// Confirming ended the other sign-in's enrolment: nothing pending remains, and its secret can
	// never become active.
	if _, err := f.st.PendingEnrolment(ctx, otherReq); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the other sign-in's enrolment after confirmation: %v, want ErrNotFound", err)
	}
	if _, err := f.svc.ConfirmEnrolment(ctx, user, otherReq, mustCode(t, oldKey, t0.Add(30*time.Second)), meta); !errors.Is(err, ErrNoPendingEnrolment) {
		t.Errorf("ConfirmEnrolment of the other sign-in = %v, want ErrNoPendingEnrolment", err)
	}
	if _, err := f.svc.ConfirmEnrolment(ctx, user, req, mustCode(t, key, t0.Add(30*time.Second)), meta); !errors.Is(err, ErrNoPendingEnrolment) {
		t.Errorf("ConfirmEnrolment again = %v, want ErrNoPendingEnrolment", err)
	}
	// The stored secret is still the confirmed one.
	if b, err := f.st.AuthenticatorByUser(ctx, user.ID); err != nil || !bytes.Equal(b.SecretSealed, a.SecretSealed) {
		t.Errorf("authenticator changed after refused enrolment: %v", err)
	}
	got := f.actions(t)
	if got[AuditEnrolmentStarted] != 2 || got[AuditEnrolmentConfirmed] != 1 || got[AuditCodeRefused] != 3 {
		t.Errorf("audit actions = %v", got)
	}
}

// TestSecretsNotAtRestOrInAudit checks that neither the database row nor the audit trail nor the database
// files hold the TOTP secret, and that the recovery codes are stored hashed.
func TestSecretsNotAtRestOrInAudit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := storagetest.SQLiteDSN(t)
	st := storagetest.Open(t, path)
	f := newFixture(t, st)
	var logs bytes.Buffer
	f.svc.Log = slog.New(slog.NewTextHandler(io.MultiWriter(&logs, t.Output()), &slog.HandlerOptions{Level: slog.LevelDebug}))
	user := f.user(t, "alice@example.com")
	meta := Meta{Address: "192.0.2.7", ClientID: "app"}
	en, err := f.svc.Enrolment(ctx, user, f.req(t, user), "Acme", Meta{})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := b32.DecodeString(en.Secret)
	code := mustCode(t, key, f.clk.Now())
	codes, err := f.svc.ConfirmEnrolment(ctx, user, f.req(t, user), code, meta)
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(30 * time.Second)
	if err := f.svc.Verify(ctx, user, wrongCode(t, key, f.clk.Now()), meta); !errors.Is(err, ErrInvalidCode) {
		t.Fatal(err)
	}
	if err := f.svc.UseRecoveryCode(ctx, user, codes[0], meta); err != nil {
		t.Fatal(err)
	}

	a, err := st.AuthenticatorByUser(ctx, user.ID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(a.SecretSealed, key) || bytes.Contains(a.SecretSealed, []byte(en.Secret)) {
		t.Fatal("sealed secret contains the secret")
	}
	// Sealed for this user: it does not open as another user's secret, or under another purpose.
	if _, err := f.sealer.Open(a.SecretSealed, []byte("someone-else")); !errors.Is(err, secret.ErrUnseal) {
		t.Errorf("Open with another user's aad = %v, want ErrUnseal", err)
	}
	other, _ := secret.NewSealer(bytes.Repeat([]byte{0x42}, secret.MasterKeySize), "signing-key")
	if _, err := other.Open(a.SecretSealed, []byte(user.ID)); !errors.Is(err, secret.ErrUnseal) {
		t.Errorf("Open under another purpose = %v, want ErrUnseal", err)
	}
	rcs, err := st.UnusedRecoveryCodes(ctx, user.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range rcs { // keyed hash (HMAC-SHA-256 under a key derived from the secret key), never plain
		if !strings.HasPrefix(rc.Hash, secret.KeyedHashPrefix) || slices.ContainsFunc(codes, func(c string) bool { return strings.Contains(rc.Hash, c) }) {
			t.Errorf("recovery code stored as %q, want a keyed hash", rc.Hash)
		}
	}

	evs, err := st.ListAudit(ctx, f.tenant.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	needles := append([]string{en.Secret, en.SecretGrouped, string(key), code}, codes...)
	for _, ev := range evs {
		if ev.TenantID != user.TenantID || ev.ActorID != user.ID || ev.TargetID != user.ID {
			t.Errorf("audit event %s: tenant/actor/target = %q/%q/%q", ev.Action, ev.TenantID, ev.ActorID, ev.TargetID)
		}
		if ev.Action != AuditEnrolmentStarted && (ev.Address != meta.Address || ev.Detail["client_id"] != meta.ClientID) {
			t.Errorf("audit event %s: address %q detail %v", ev.Action, ev.Address, ev.Detail)
		}
		b, _ := json.Marshal(ev)
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				t.Errorf("audit event %s contains a secret or code: %s", ev.Action, b)
			}
		}
	}
	for _, n := range needles {
		if strings.Contains(logs.String(), n) {
			t.Errorf("logs contain a secret or code")
		}
	}
	// The raw database files (main file and write-ahead log) hold neither form of the secret.
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, key) || bytes.Contains(b, []byte(en.Secret)) {
			t.Errorf("%s contains the TOTP secret", filepath.Base(p))
		}
		for _, c := range codes {
			if bytes.Contains(b, []byte(c)) {
				t.Errorf("%s contains a recovery code", filepath.Base(p))
			}
		}
	}
}

func TestEnrolmentRandomFailure(t *testing.T) {
	f := newSQLiteFixture(t)
	f.svc.Rand = io.LimitReader(rand.Reader, 4)
	user := f.user(t, "alice@example.com")
	if _, err := f.svc.Enrolment(context.Background(), user, f.req(t, user), "Acme", Meta{}); err == nil {
		t.Fatal("BeginEnrolment with a short random source succeeded")
	}
	if st, _ := f.svc.Status(context.Background(), user.ID); st != StateNone {
		t.Errorf("state = %q, want none", st)
	}
}

var recoveryCodeRE = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$`)

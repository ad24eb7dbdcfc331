package app

import (
	"errors"
	"log/slog"
	"time"

	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/storage"
)

// newWebAuthn builds the WebAuthn relying party for the issuer, or nil (WebAuthn off, with a warning)
// when the issuer is an IP address, which cannot be an RP ID.
func newWebAuthn(cfg Config, st *storage.Store, now func() time.Time, log *slog.Logger) (*mfa.Keys, error) {
	k, err := mfa.NewKeys(mfa.KeysConfig{Issuer: cfg.Issuer, RPID: cfg.WebAuthn.RPID}, st, now, log)
	if errors.Is(err, mfa.ErrWebAuthnUnavailable) {
		log.Warn("passkeys and security keys are off: the issuer is an IP address, and WebAuthn needs a domain name (use e.g. http://localhost:PORT)",
			"issuer", cfg.Issuer)
		return nil, nil
	}
	return k, err
}

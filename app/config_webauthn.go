package app

// WebAuthnConfig configures passkeys and security keys (the "webauthn" section).
type WebAuthnConfig struct {
	// RPID is the WebAuthn relying party id; empty means the issuer's host. It must be that host or a
	// parent domain of it. An IP-address issuer turns WebAuthn off (with a warning at start-up).
	RPID string `yaml:"rp_id"`
}

var webauthnEnvNames = []string{"WEBAUTHN_RP_ID"}

// set assigns one WebAuthn setting by its name; ok is false for a name that is not one.
func (w *WebAuthnConfig) set(key, v string) (ok bool) {
	switch key {
	case "webauthn_rp_id", "webauthn.rp_id":
		w.RPID = v
		return true
	}
	return false
}

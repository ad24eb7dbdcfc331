// Package webauthntest is a software WebAuthn authenticator for tests: it answers the options JSON of
// navigator.credentials.create and .get with the JSON a browser would post, signed with its own P-256 key.
package webauthntest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

var b64 = base64.RawURLEncoding

// Authenticator is one credential on a software authenticator.
type Authenticator struct {
	Origin       string // the origin the browser reports in clientDataJSON
	RPID         string // the RP ID whose hash goes into authenticator data
	UserVerified bool   // set the UV flag
	BackupElig   bool   // set the BE flag (a synced passkey)
	SignCount    uint32 // the counter of the next assertion is SignCount+1 (0 stays 0)
	CredentialID []byte
	UserHandle   []byte
	key          *ecdsa.PrivateKey
}

// New returns an authenticator for origin and rpID with a fresh key.
func New(origin, rpID string) *Authenticator {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	return &Authenticator{Origin: origin, RPID: rpID, UserVerified: true, CredentialID: id, key: k, SignCount: 1}
}

type options struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		User      struct {
			ID string `json:"id"`
		} `json:"user"`
	} `json:"publicKey"`
}

func (a *Authenticator) flags(attested bool) byte {
	f := byte(0x01) // UP
	if a.UserVerified {
		f |= 0x04
	}
	if a.BackupElig {
		f |= 0x08
	}
	if attested {
		f |= 0x40
	}
	return f
}

func (a *Authenticator) authData(attested bool) []byte {
	h := sha256.Sum256([]byte(a.RPID))
	out := append([]byte{}, h[:]...)
	out = append(out, a.flags(attested))
	out = binary.BigEndian.AppendUint32(out, a.SignCount)
	if attested {
		out = append(out, make([]byte, 16)...) // AAGUID
		out = binary.BigEndian.AppendUint16(out, uint16(len(a.CredentialID)))
		out = append(out, a.CredentialID...)
		x, y := make([]byte, 32), make([]byte, 32)
		a.key.X.FillBytes(x)
		a.key.Y.FillBytes(y)
		cose, err := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
		if err != nil {
			panic(err)
		}
		out = append(out, cose...)
	}
	return out
}

func clientData(typ, challenge, origin string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": false})
	return b
}

// Challenge returns the challenge of an options document.
func Challenge(optionsJSON []byte) string {
	var o options
	_ = json.Unmarshal(optionsJSON, &o)
	return o.PublicKey.Challenge
}

// Create answers navigator.credentials.create(optionsJSON).
func (a *Authenticator) Create(optionsJSON []byte) []byte {
	var o options
	if err := json.Unmarshal(optionsJSON, &o); err != nil {
		panic(fmt.Sprintf("create options: %v", err))
	}
	if uh, err := b64.DecodeString(o.PublicKey.User.ID); err == nil {
		a.UserHandle = uh
	}
	att, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": a.authData(true)})
	if err != nil {
		panic(err)
	}
	b, _ := json.Marshal(map[string]any{"id": b64.EncodeToString(a.CredentialID), "rawId": b64.EncodeToString(a.CredentialID),
		"type": "public-key", "response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(clientData("webauthn.create", o.PublicKey.Challenge, a.Origin)),
			"attestationObject": b64.EncodeToString(att), "transports": []string{"internal"}}})
	return b
}

// Get answers navigator.credentials.get(optionsJSON), advancing the counter first (unless it is 0).
func (a *Authenticator) Get(optionsJSON []byte) []byte {
	return a.GetChallenge(Challenge(optionsJSON))
}

// GetChallenge signs an assertion for challenge.
func (a *Authenticator) GetChallenge(challenge string) []byte {
	if a.SignCount != 0 {
		a.SignCount++
	}
	ad := a.authData(false)
	cd := clientData("webauthn.get", challenge, a.Origin)
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		panic(err)
	}
	b, _ := json.Marshal(map[string]any{"id": b64.EncodeToString(a.CredentialID), "rawId": b64.EncodeToString(a.CredentialID),
		"type": "public-key", "response": map[string]any{"clientDataJSON": b64.EncodeToString(cd),
			"authenticatorData": b64.EncodeToString(ad), "signature": b64.EncodeToString(sig),
			"userHandle": b64.EncodeToString(a.UserHandle)}})
	return b
}

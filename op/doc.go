// Package op is Portcullis' OpenID provider: the zitadel/oidc provider wired to our storage, our signing
// keys, our discovery document and the MFA gate (an auth request is done only when its recorded factors
// satisfy the tenant's policy, as mfa decides).
//
// It owns the provider library's storage contract (Storage, split by responsibility: auth requests in
// storage.go, tokens and refresh in storage_tokens.go, clients in storage_clients.go, signing keys in
// storage_keys.go, userinfo and introspection claims in storage_userinfo.go), the signing keys (Keys),
// client validation and the provider's HTTP handler.
//
// It may import mfa, secret and storage of ours. It must never import login, admin, app or telemetry:
// the login UI and the admin surface meet the provider through values and functions that app passes
// in (the callback URL, Evaluate, token verification).
package op

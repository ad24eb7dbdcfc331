// Package browsertest drives a real headless Chromium through Portcullis and the demo app: an admin
// turns the tenant's MFA policy on and off in the account settings, a member enrols an authenticator
// at first sign-in, signs in with codes, and the pages are checked for what password managers and
// small screens need.
//
// The tests use the system's browser, never one they download: PORTCULLIS_TEST_CHROMIUM names it,
// otherwise /usr/bin/chromium (Debian's package). Without a browser they skip, unless CI=true, where
// they fail. Screenshots of the pages they pass go to PORTCULLIS_TEST_ARTIFACTS, by default
// artifacts/screenshots at the repository root.
package browsertest

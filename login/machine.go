package login

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/mfa"
)

// Step is where a sign-in stands: the page it needs next. Adding a step (a password reset, a passkey)
// is a new page handler plus one case in Next.
type Step int

// The steps of a sign-in, in the order a first sign-in under the MFA policy meets them. After the
// enrolment the recovery codes are shown once, as the answer of the enrolment itself.
const (
	StepPassword  Step = iota // who signs in: email and password
	StepEnrolCode             // an admin's reset left an enrolment code that this sign-in must give first
	StepEnrol                 // scan a new TOTP secret and confirm it with a code
	StepCode                  // the TOTP code (or a recovery code instead)
	StepDone                  // every factor the tenant's policy and the request demand is proven
	StepKey                   // the user's passkey or security key as the second factor (the code the other way)
	StepAddKey                // add a passkey or security key (phishing resistance demanded, or chosen at enrolment)
)

func (s Step) String() string {
	return [...]string{"password", "enrolment code", "enrolment", "code", "done", "key", "add key"}[s]
}

// State is everything the next step depends on.
type State struct {
	SignedIn bool         // the sign-in names a user who proved the password (or carried it over from a session)
	Verdict  mfa.Verdict  // what the recorded factors prove against the tenant's policy and the request's acr
	Standing mfa.Standing // the user's second factor, as seen from this sign-in (read only when it matters)
	Proven   bool         // a second factor is proven in this sign-in (Fresh)
	// Fresh: the recorded factors were proven in this sign-in, not only carried over from an SSO session
	// that may be hours old. A key is added only on a fresh factor: a passkey outlives the session.
	Fresh bool
}

// Next is the one rule for what comes next in a sign-in.
func Next(s State) Step {
	switch {
	case !s.SignedIn || s.Verdict.ACR == "": // no password proven
		return StepPassword
	case s.Verdict.Satisfied:
		return StepDone
	case s.Standing.HasKey: // a key is offered first (and counts for every demand)
		return StepKey
	case s.Verdict.PhishingResistant && s.Proven: // e.g. a TOTP user proved the code: now the key
		return StepAddKey
	case s.Standing.Enrolled:
		return StepCode
	case s.Standing.EnrolmentCodeRequired:
		return StepEnrolCode
	case s.Verdict.PhishingResistant && !s.Fresh: // a session's word adds no key: the password again
		return StepPassword
	case s.Verdict.PhishingResistant:
		return StepAddKey
	case !s.Fresh: // nor an authenticator app: its secret outlives the session too, so the password again
		return StepPassword
	default:
		return StepEnrol
	}
}

// Allows reports whether page may be shown (and its form taken) in state s: the page of Next, or the
// other way of the same step: the TOTP code instead of the key (when the user has an authenticator app
// and a code can meet the demand), and a key instead of the authenticator app at enrolment.
func (s State) Allows(page Step) bool {
	switch next := Next(s); {
	case page == next:
		return true
	case page == StepCode && next == StepKey:
		return s.Standing.Enrolled && s.Verdict.TOTPAllowed
	case page == StepAddKey && next == StepEnrol:
		return s.Standing.KeysOn && s.Fresh
	default:
		return false
	}
}

// next computes the step of f from what it recorded, the tenant's policy and the user's standing.
func (h *Handler) next(ctx context.Context, f *flow) (Step, error) {
	s, err := h.state(ctx, f)
	if err != nil {
		return 0, err
	}
	return Next(s), nil
}

// state reads what the next step of f depends on.
func (h *Handler) state(ctx context.Context, f *flow) (State, error) {
	s := State{SignedIn: f.req.UserID != "", Verdict: mfa.DecideFor(f.req.Factors, demand(f)), Fresh: fresh(f.req.AuthTime, f.req.CreatedAt)}
	s.Proven = s.Fresh && mfa.HasSecondFactor(f.req.Factors)
	if s.SignedIn && s.Verdict.SecondFactorMissing() {
		var err error
		if s.Standing, err = h.MFA.Standing(ctx, f.req.UserID, f.req.ID); err != nil {
			return State{}, err
		}
		if err := h.keyStanding(ctx, f, &s.Standing); err != nil {
			return State{}, err
		}
	}
	return s, nil
}

// freshSkew is how much earlier than its sign-in's start a factor may have been proven and still count
// as proven in it: the clocks of instances differ a little.
const freshSkew = time.Minute

// fresh reports whether factors recorded at authTime were proven in the sign-in created at created
// (every step records its time; a carried-over SSO session keeps the time of its own sign-in).
func fresh(authTime, created time.Time) bool {
	return !authTime.IsZero() && !authTime.Before(created.Add(-freshSkew))
}

// stepURL is the page of step for the sign-in id.
func stepURL(step Step, id string) string {
	q := "?authRequestID=" + url.QueryEscape(id)
	switch step {
	case StepEnrolCode:
		return "/login/enrol-code" + q
	case StepEnrol:
		return "/login/enrol" + q
	case StepCode:
		return "/login/otp" + q
	case StepKey:
		return "/login/key" + q
	case StepAddKey:
		return "/login/key-enrol" + q
	default:
		return "/login/" + q
	}
}

// goTo sends the browser to the page of step; a done sign-in gets its SSO session and goes to the
// provider's callback, which issues the code (after deciding again, from the same rule).
func (h *Handler) goTo(c echo.Context, f *flow, step Step) error {
	switch step {
	case StepDone:
		if err := h.startSession(c, f); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, h.Callback(c.Request(), f.req.ID))
	case StepPassword:
		if keyNamed(f.req) { // a key named the user: their password is still to come
			return c.Redirect(http.StatusSeeOther, "/login/password?authRequestID="+url.QueryEscape(f.req.ID))
		}
		return errOutOfOrder
	default:
		return c.Redirect(http.StatusSeeOther, stepURL(step, f.req.ID))
	}
}

// proceed ends every step that recorded something: it asks Next and goes there.
func (h *Handler) proceed(c echo.Context, f *flow) error {
	step, err := h.next(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return h.goTo(c, f, step)
}

// at loads the sign-in for the page of step want. When the sign-in stands elsewhere, the browser is sent
// there and at returns a nil flow with the answer to return.
func (h *Handler) at(c echo.Context, want Step) (*flow, error) {
	f, err := h.load(c, true)
	if err != nil {
		return nil, err
	}
	s, err := h.state(c.Request().Context(), f)
	if err != nil {
		return nil, err
	}
	if !s.Allows(want) {
		return nil, h.goTo(c, f, Next(s))
	}
	f.standing = s.Standing
	return f, nil
}

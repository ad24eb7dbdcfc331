package demoapp

import (
	"crypto/rand"
	"errors"
	"sync"
	"time"
)

// sessionStore keeps started sign-ins and signed-in sessions in memory, keyed by random cookie values.
//
// This is fine for a demo and wrong for a real app: it lives in one process, so the app cannot run as
// several instances behind a load balancer, and a restart signs everyone out. A real app keeps
// sessions in a database or a shared cache (or in sealed cookies).
type sessionStore struct {
	now func() time.Time

	mu       sync.Mutex
	logins   map[string]pendingLogin
	sessions map[string]session
}

// Bounds on what the store holds, so a flood of /login requests cannot grow it without limit.
const (
	maxLogins   = 10000
	maxSessions = 10000
)

var errStoreFull = errors.New("demoapp: session store is full")

// pendingLogin is a sign-in in flight: what the callback must check.
type pendingLogin struct {
	State, Nonce, Verifier string
	RequireMFA             bool
	expires                time.Time
}

// session is a signed-in user.
type session struct {
	key        string
	Claims     map[string]any // the verified ID token's claims
	RawIDToken string         // sent back to the provider as id_token_hint at logout
	CSRF       string         // the logout form's token
	expires    time.Time
}

func newSessionStore(now func() time.Time) *sessionStore {
	return &sessionStore{now: now, logins: map[string]pendingLogin{}, sessions: map[string]session{}}
}

// putLogin stores a started sign-in and returns its key.
func (s *sessionStore) putLogin(p pendingLogin) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked()
	if len(s.logins) >= maxLogins {
		return "", errStoreFull
	}
	key := randomToken()
	p.expires = s.now().Add(loginTTL)
	s.logins[key] = p
	return key, nil
}

// takeLogin returns a started sign-in and forgets it: each one is redeemed once.
func (s *sessionStore) takeLogin(key string) (pendingLogin, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.logins[key]
	delete(s.logins, key)
	return p, ok && s.now().Before(p.expires)
}

// putSession stores a session and returns its key.
func (s *sessionStore) putSession(sess session) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked()
	if len(s.sessions) >= maxSessions {
		return "", errStoreFull
	}
	sess.key = randomToken()
	sess.expires = s.now().Add(sessionTTL)
	s.sessions[sess.key] = sess
	return sess.key, nil
}

func (s *sessionStore) session(key string) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[key]
	if ok && !s.now().Before(sess.expires) {
		delete(s.sessions, key)
		return session{}, false
	}
	return sess, ok
}

func (s *sessionStore) deleteSession(key string) {
	s.mu.Lock()
	delete(s.sessions, key)
	s.mu.Unlock()
}

// sweepLocked drops what has expired. The caller holds s.mu.
func (s *sessionStore) sweepLocked() {
	now := s.now()
	for k, p := range s.logins {
		if !now.Before(p.expires) {
			delete(s.logins, k)
		}
	}
	for k, sess := range s.sessions {
		if !now.Before(sess.expires) {
			delete(s.sessions, k)
		}
	}
}

// randomToken is 128 bits from crypto/rand, as text safe for cookies and URLs.
func randomToken() string { return rand.Text() }

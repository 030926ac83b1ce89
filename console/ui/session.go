package ui

import (
	"crypto/subtle"
	"sync"
)

// liveSession is a signed-in member's console session. mu guards the tokens
// (a refresh replaces them) and the small per-session state below; post
// serialises the session's form submissions, so that a second submission
// of a form waits for the first and then finds its outcome.
type liveSession struct {
	mu   sync.Mutex
	post sync.Mutex
	session
	flash string
	// secret is a client secret waiting to be shown once, on the page of
	// the client it belongs to (see takeSecret).
	secret *shownSecret
	// forms maps the idempotency keys of handled forms to where they led,
	// oldest first in formOrder, bounded by maxForms.
	forms     map[string]string
	formOrder []string
}

// shownSecret is a client secret just created or rotated.
type shownSecret struct {
	Realm    string
	ClientID string
	Secret   string
}

// maxForms is how many handled forms a session remembers: enough for any
// double click or back-and-resubmit, small enough to bound memory.
const maxForms = 256

func (s *liveSession) csrfToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.csrf
}

func (s *liveSession) checkCSRF(token string) bool {
	want := s.csrfToken()
	return token != "" && subtle.ConstantTimeCompare([]byte(want), []byte(token)) == 1
}

func (s *liveSession) setFlash(msg string) {
	s.mu.Lock()
	s.flash = msg
	s.mu.Unlock()
}

// takeFlash returns the flash message once.
func (s *liveSession) takeFlash() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.flash
	s.flash = ""
	return f
}

// keepSecret holds a new client secret for the next page of that client.
func (s *liveSession) keepSecret(sec *shownSecret) {
	s.mu.Lock()
	s.secret = sec
	s.mu.Unlock()
}

// takeSecret returns the waiting secret if it belongs to realmName's
// clientID, and forgets it: it is shown exactly once, and a reload never
// shows it again.
func (s *liveSession) takeSecret(realmName, clientID string) *shownSecret {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secret
	if sec == nil || sec.Realm != realmName || sec.ClientID != clientID {
		return nil
	}
	s.secret = nil
	return sec
}

// submitted reports where an already handled form led.
func (s *liveSession) submitted(formID string) (string, bool) {
	if formID == "" {
		return "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	to, ok := s.forms[formID]
	return to, ok
}

// remember records that the form formID was handled and led to target.
func (s *liveSession) remember(formID, target string) {
	if formID == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.forms == nil {
		s.forms = map[string]string{}
	}
	if _, ok := s.forms[formID]; !ok {
		s.formOrder = append(s.formOrder, formID)
	}
	s.forms[formID] = target
	for len(s.formOrder) > maxForms {
		delete(s.forms, s.formOrder[0])
		s.formOrder = s.formOrder[1:]
	}
}

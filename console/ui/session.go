package ui

import (
	"crypto/subtle"
	"sync"
	"time"
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
	// secrets are client secrets waiting to be shown once, each on the
	// page of the client it belongs to (see takeSecret), newest last.
	secrets []*shownSecret
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
	expires  time.Time
}

// A secret not picked up within secretWait (the browser never loaded the
// client's page) is forgotten; a session holds at most maxSecrets (several
// tabs creating clients at once), so memory stays bounded and an old
// secret does not sit in memory for the whole session.
const (
	secretWait = 10 * time.Minute
	maxSecrets = 8
)

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

// keepSecret holds a new client secret for the next page of that client,
// replacing one still waiting for the same client (a rotation supersedes
// it: the older secret may be in its grace period, but it is not shown).
func (s *liveSession) keepSecret(sec *shownSecret, now time.Time) {
	sec.expires = now.Add(secretWait)
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.secrets[:0]
	for _, w := range s.secrets {
		if now.Before(w.expires) && (w.Realm != sec.Realm || w.ClientID != sec.ClientID) {
			kept = append(kept, w)
		}
	}
	s.secrets = append(kept, sec)
	if len(s.secrets) > maxSecrets {
		s.secrets = s.secrets[len(s.secrets)-maxSecrets:]
	}
}

// takeSecret returns the waiting secret of realmName's clientID, and
// forgets it: it is shown exactly once, and a reload never shows it again.
func (s *liveSession) takeSecret(realmName, clientID string, now time.Time) *shownSecret {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, w := range s.secrets {
		if w.Realm == realmName && w.ClientID == clientID {
			s.secrets = append(s.secrets[:i], s.secrets[i+1:]...)
			if now.Before(w.expires) {
				return w
			}
			return nil
		}
	}
	return nil
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

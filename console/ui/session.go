package ui

import (
	"crypto/subtle"
	"time"
)

// sessionState is everything a console session holds. It is sealed
// (AES-GCM) into the session's database row, so any Ward node can serve
// the member's next request and a restart signs no one out; the tokens
// never reach the browser.
type sessionState struct {
	Access  string `json:"a"`
	Refresh string `json:"r,omitempty"`
	IDToken string `json:"i,omitempty"`
	CSRF    string `json:"c"` // bound to the session; every form carries it
	Flash   string `json:"f,omitempty"`
	// Secrets are client secrets waiting to be shown once, each on the
	// page of the client it belongs to (see takeSecret), newest last.
	Secrets []*shownSecret `json:"s,omitempty"`
	// Forms maps the idempotency keys of handled forms to where they led,
	// oldest first in FormOrder, bounded by maxForms.
	Forms     map[string]string `json:"k,omitempty"`
	FormOrder []string          `json:"o,omitempty"`
}

// liveSession is one request's copy of a session: loaded at the start,
// written back when it changed (dirty). Requests of one session are
// serialised on a node (sessions.lock), so the copy is not shared.
type liveSession struct {
	idHash  []byte
	expires time.Time
	st      sessionState
	dirty   bool
}

// shownSecret is a client secret just created or rotated.
type shownSecret struct {
	Realm    string    `json:"r"`
	ClientID string    `json:"c"`
	Secret   string    `json:"s"`
	Expires  time.Time `json:"e"`
}

// A secret not picked up within secretWait (the browser never loaded the
// client's page) is forgotten; a session holds at most maxSecrets (several
// tabs creating clients at once), so the session stays small and an old
// secret does not sit in it for the whole session.
const (
	secretWait = 10 * time.Minute
	maxSecrets = 8
)

// maxForms is how many handled forms a session remembers: enough for any
// double click or back-and-resubmit, small enough to keep the session row
// small.
const maxForms = 64

func (s *liveSession) csrfToken() string { return s.st.CSRF }

func (s *liveSession) checkCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(s.st.CSRF), []byte(token)) == 1
}

func (s *liveSession) setFlash(msg string) {
	s.st.Flash = msg
	s.dirty = true
}

// takeFlash returns the flash message once.
func (s *liveSession) takeFlash() string {
	f := s.st.Flash
	if f != "" {
		s.st.Flash = ""
		s.dirty = true
	}
	return f
}

// keepSecret holds a new client secret for the next page of that client,
// replacing one still waiting for the same client (a rotation supersedes
// it: the older secret may be in its grace period, but it is not shown).
func (s *liveSession) keepSecret(sec *shownSecret, now time.Time) {
	sec.Expires = now.Add(secretWait)
	kept := s.st.Secrets[:0]
	for _, w := range s.st.Secrets {
		if now.Before(w.Expires) && (w.Realm != sec.Realm || w.ClientID != sec.ClientID) {
			kept = append(kept, w)
		}
	}
	s.st.Secrets = append(kept, sec)
	if len(s.st.Secrets) > maxSecrets {
		s.st.Secrets = s.st.Secrets[len(s.st.Secrets)-maxSecrets:]
	}
	s.dirty = true
}

// takeSecret returns the waiting secret of realmName's clientID, and
// forgets it: it is shown exactly once, and a reload never shows it again.
func (s *liveSession) takeSecret(realmName, clientID string, now time.Time) *shownSecret {
	for i, w := range s.st.Secrets {
		if w.Realm == realmName && w.ClientID == clientID {
			s.st.Secrets = append(s.st.Secrets[:i], s.st.Secrets[i+1:]...)
			s.dirty = true
			if now.Before(w.Expires) {
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
	to, ok := s.st.Forms[formID]
	return to, ok
}

// remember records that the form formID was handled and led to target.
func (s *liveSession) remember(formID, target string) {
	if formID == "" {
		return
	}
	if s.st.Forms == nil {
		s.st.Forms = map[string]string{}
	}
	if _, ok := s.st.Forms[formID]; !ok {
		s.st.FormOrder = append(s.st.FormOrder, formID)
	}
	s.st.Forms[formID] = target
	for len(s.st.FormOrder) > maxForms {
		delete(s.st.Forms, s.st.FormOrder[0])
		s.st.FormOrder = s.st.FormOrder[1:]
	}
	s.dirty = true
}

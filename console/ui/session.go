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
	// Secrets are client secrets and API keys waiting to be shown once,
	// each on the page of the client or key it belongs to (see
	// takeSecret), newest last.
	Secrets []*shownSecret `json:"s,omitempty"`
	// Forms maps the idempotency keys of handled forms to where they led,
	// oldest first in FormOrder, bounded by maxForms.
	Forms     map[string]string `json:"k,omitempty"`
	FormOrder []string          `json:"o,omitempty"`
	// RefreshingUntil marks a token refresh in progress, perhaps on
	// another node: other requests wait for it instead of presenting the
	// same refresh token (which reuse detection would answer by revoking
	// the family).
	RefreshingUntil time.Time `json:"u,omitzero"`
}

// liveSession is one request's copy of a session: loaded at the start,
// written back when it changed. Requests of one session are serialised on
// a node (sessions.lock), so the copy is not shared; another node may
// write the row meanwhile, so every change is also kept as an operation
// and replayed on the newer copy when the write-back finds the row changed
// (sessions.save).
type liveSession struct {
	idHash  []byte
	expires time.Time
	version int64
	st      sessionState
	ops     []func(*sessionState)
}

// change applies op to the session and remembers it for the write-back.
func (s *liveSession) change(op func(*sessionState)) {
	op(&s.st)
	s.ops = append(s.ops, op)
}

// shownSecret is a secret waiting to be shown once: a client secret just
// created or rotated (Slot is the client's ID), a new API key
// (apiKeySlot(id)) or a test key minted from a security template
// (testKeySlot(id)).
type shownSecret struct {
	Realm   string    `json:"r"`
	Slot    string    `json:"c"` // what the secret is for, within Realm
	Secret  string    `json:"s"`
	Expires time.Time `json:"e"` // when the slot is forgotten
	// Until is when the secret itself expires (a test key), zero for one
	// without an expiry of its own.
	Until time.Time `json:"u,omitzero"`
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
	s.change(func(st *sessionState) { st.Flash = msg })
}

// takeFlash returns the flash message once.
func (s *liveSession) takeFlash() string {
	f := s.st.Flash
	if f != "" {
		s.change(func(st *sessionState) {
			if st.Flash == f {
				st.Flash = ""
			}
		})
	}
	return f
}

// keepSecret holds a new client secret for the next page of that client,
// replacing one still waiting for the same client (a rotation supersedes
// it: the older secret may be in its grace period, but it is not shown).
func (s *liveSession) keepSecret(sec *shownSecret, now time.Time) {
	sec.Expires = now.Add(secretWait)
	s.change(func(st *sessionState) {
		var kept []*shownSecret
		for _, w := range st.Secrets {
			if now.Before(w.Expires) && (w.Realm != sec.Realm || w.Slot != sec.Slot) {
				kept = append(kept, w)
			}
		}
		st.Secrets = append(kept, sec)
		if len(st.Secrets) > maxSecrets {
			st.Secrets = st.Secrets[len(st.Secrets)-maxSecrets:]
		}
	})
}

// secretFor returns the waiting secret of realmName's slot, if any.
func (st *sessionState) secretFor(realmName, slot string) *shownSecret {
	for _, w := range st.Secrets {
		if w.Realm == realmName && w.Slot == slot {
			return w
		}
	}
	return nil
}

// withoutSecret is st without the secret of realmName's slot.
func (st sessionState) withoutSecret(realmName, slot string) sessionState {
	var kept []*shownSecret
	for _, w := range st.Secrets {
		if w.Realm != realmName || w.Slot != slot {
			kept = append(kept, w)
		}
	}
	st.Secrets = kept
	return st
}

// submitted reports where an already handled form led; "" with true
// means another request is handling it right now (claimForm).
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
	s.change(func(st *sessionState) {
		if st.Forms == nil {
			st.Forms = map[string]string{}
		}
		if _, ok := st.Forms[formID]; !ok {
			st.FormOrder = append(st.FormOrder, formID)
		}
		st.Forms[formID] = target
		for len(st.FormOrder) > maxForms {
			delete(st.Forms, st.FormOrder[0])
			st.FormOrder = st.FormOrder[1:]
		}
	})
}

package ui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/wardiam/ward/realm"
)

// maxPerOwner is how many console sessions one account keeps (its oldest
// gives way): enough for several browsers and devices, and no one can pile
// up sessions by signing in again and again.
const maxPerOwner = 20

// sessions keeps console sessions in the database (realm.ConsoleSessionStore),
// keyed by the SHA-256 of the cookie value and sealed with the console's
// key, so that a database reader sees neither the cookie nor the tokens,
// and a sealed row cannot be moved under another key.
type sessions struct {
	store realm.ConsoleSessionStore
	seal  *sealer
	// locks serialise the requests of one session on this node (striped
	// by the session's hash): load, handle, write back.
	locks [64]sync.Mutex
}

func sessionHash(cookie string) []byte {
	h := sha256.Sum256([]byte(cookie))
	return h[:]
}

// lock serialises the requests of the session with this cookie and returns
// the unlock function.
func (m *sessions) lock(cookie string) func() {
	mu := &m.locks[binary.BigEndian.Uint16(sessionHash(cookie))%uint16(len(m.locks))]
	mu.Lock()
	return mu.Unlock
}

// create stores a new session for owner and returns its cookie value.
func (m *sessions) create(ctx context.Context, owner string, st sessionState, expires, now time.Time) (string, error) {
	cookie := randomString()
	s := &liveSession{idHash: sessionHash(cookie), expires: expires, st: st}
	data, err := m.sealState(s)
	if err != nil {
		return "", err
	}
	err = m.store.CreateConsoleSession(ctx, &realm.ConsoleSession{IDHash: s.idHash, Owner: owner, Data: data,
		ExpiresAt: expires, UpdatedAt: now}, maxPerOwner)
	return cookie, err
}

// load returns the session of cookie; nil (no error) when there is none,
// it expired, or its row cannot be opened (sealed by another key: the
// master key changed), all of which mean "sign in again".
func (m *sessions) load(ctx context.Context, cookie string, now time.Time) (*liveSession, error) {
	if cookie == "" {
		return nil, nil
	}
	row, err := m.store.GetConsoleSession(ctx, sessionHash(cookie), now)
	if errors.Is(err, realm.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	plain, ok := m.seal.open(row.Data, sessionAD(row.IDHash))
	if !ok {
		return nil, nil
	}
	s := &liveSession{idHash: row.IDHash, expires: row.ExpiresAt}
	if err := json.Unmarshal(plain, &s.st); err != nil {
		return nil, nil
	}
	return s, nil
}

// save writes s back if it changed.
func (m *sessions) save(ctx context.Context, s *liveSession, now time.Time) error {
	if s == nil || !s.dirty {
		return nil
	}
	data, err := m.sealState(s)
	if err != nil {
		return err
	}
	if err := m.store.UpdateConsoleSession(ctx, s.idHash, data, now); err != nil && !errors.Is(err, realm.ErrNotFound) {
		return err
	}
	s.dirty = false
	return nil
}

func (m *sessions) remove(ctx context.Context, idHash []byte) error {
	return m.store.DeleteConsoleSession(ctx, idHash)
}

func (m *sessions) sealState(s *liveSession) ([]byte, error) {
	plain, err := json.Marshal(&s.st)
	if err != nil {
		return nil, fmt.Errorf("console session: %w", err)
	}
	return m.seal.sealBytes(plain, sessionAD(s.idHash)), nil
}

// sessionAD binds a sealed session to its row.
func sessionAD(idHash []byte) []byte { return append([]byte("ward console session "), idHash...) }

// randomString is 256 random bits, URL-safe (43 characters).
func randomString() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

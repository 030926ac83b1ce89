package ui

import (
	"testing"
	"time"
)

// TestSealedSignIn: a sealed sign-in opens only intact, under its own
// cookie name, before it expires, and only in the process that sealed it.
func TestSealedSignIn(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s, err := newSealer(nil)
	if err != nil {
		t.Fatal(err)
	}
	p := pending{State: randomString(), Verifier: "verifier", Back: "/console/members", Expires: now.Add(time.Minute)}
	name, value := signInCookieName(p.State), s.seal(p)
	if got, ok := s.openSignIn(name, value, now); !ok || got.State != p.State || got.Verifier != p.Verifier || got.Back != p.Back || !got.Expires.Equal(p.Expires) {
		t.Fatalf("open = %+v, %v", got, ok)
	}
	if _, ok := s.openSignIn(name, value, now.Add(time.Minute)); ok {
		t.Error("an expired sign-in opened")
	}
	if _, ok := s.openSignIn(signInCookieName(randomString()), value, now); ok {
		t.Error("a sign-in opened under another sign-in's cookie name")
	}
	tampered := []byte(value)
	tampered[len(tampered)/2] ^= 1
	if _, ok := s.openSignIn(name, string(tampered), now); ok {
		t.Error("a tampered sign-in opened")
	}
	other, _ := newSealer(nil)
	if _, ok := other.openSignIn(name, value, now); ok {
		t.Error("another process's key opened the sign-in")
	}
	if _, ok := s.openSignIn(name, "not base64 !", now); ok {
		t.Error("garbage opened")
	}
}

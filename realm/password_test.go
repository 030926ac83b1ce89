package realm

import (
	"testing"
	"time"
)

// TestHashSlotsBoundConcurrency: with every hash slot taken, a
// verification waits; freeing one lets it run.
func TestHashSlotsBoundConcurrency(t *testing.T) {
	hash, err := HashPassword("correct horse battery", nil)
	if err != nil {
		t.Fatal(err)
	}
	for range cap(hashSlots) {
		hashSlots <- struct{}{}
	}
	done := make(chan bool)
	go func() { done <- VerifyPassword(hash, "correct horse battery") }()
	select {
	case <-done:
		t.Fatal("a verification ran while every hash slot was taken")
	case <-time.After(300 * time.Millisecond): // an unbounded verification takes ~40 ms
	}
	<-hashSlots
	if !<-done {
		t.Error("the verification, once let in, failed")
	}
	for range cap(hashSlots) - 1 {
		<-hashSlots
	}
}

package realm

import (
	"testing"
	"time"
)

// TestPasswordsBoundConcurrency: with every slot taken, a verification
// waits; freeing one lets it run.
func TestPasswordsBoundConcurrency(t *testing.T) {
	p := NewPasswords(2)
	hash, err := p.Hash("correct horse battery", nil)
	if err != nil {
		t.Fatal(err)
	}
	p.slots <- struct{}{}
	p.slots <- struct{}{}
	done := make(chan bool)
	go func() { done <- p.Verify(hash, "correct horse battery") }()
	select {
	case <-done:
		t.Fatal("a verification ran while every slot was taken")
	case <-time.After(300 * time.Millisecond): // an unbounded verification takes ~40 ms
	}
	<-p.slots
	if !<-done {
		t.Error("the verification, once let in, failed")
	}
	<-p.slots
	if NewPasswords(0).slots == nil || cap(NewPasswords(0).slots) < 1 {
		t.Error("NewPasswords(0) has no slots")
	}
}

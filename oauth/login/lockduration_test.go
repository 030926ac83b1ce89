package login

import (
	"testing"
	"time"
)

func TestLockDuration(t *testing.T) {
	for n, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute} {
		if got := lockDuration(n); got != want {
			t.Errorf("lockDuration(%d) = %v, want %v", n, got, want)
		}
	}
	if got := lockDuration(1 << 20); got != loginLockMax {
		t.Errorf("lockDuration(huge) = %v", got)
	}
}

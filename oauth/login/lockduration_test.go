package login

import (
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
)

func TestLockDuration(t *testing.T) {
	for n, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute} {
		if got := lockDuration(n, realm.DefaultMaxLock); got != want {
			t.Errorf("lockDuration(%d) = %v, want %v", n, got, want)
		}
	}
	if got := lockDuration(1<<20, realm.DefaultMaxLock); got != realm.DefaultMaxLock {
		t.Errorf("lockDuration(huge) = %v", got)
	}
	// A realm's longer maximum (issue 19): the doubling goes on to it.
	for n, want := range []time.Duration{time.Minute, 32 * time.Minute, time.Hour, time.Hour} {
		if got := lockDuration([]int{0, 5, 6, 40}[n], time.Hour); got != want {
			t.Errorf("lockDuration(%d, 1h) = %v, want %v", []int{0, 5, 6, 40}[n], got, want)
		}
	}
}

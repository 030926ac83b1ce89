//go:build !race

package main

// raceEnabled: these tests run without the race detector (race_test.go).
const raceEnabled = false

//go:build race

package main

// raceEnabled: these tests run under the race detector, so TestMain builds
// the ward binary with it too; the servers are what most of them exercise.
const raceEnabled = true

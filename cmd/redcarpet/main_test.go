package main

import (
	"os"
	"testing"
)

// TestMain lets the crash test re-execute this test binary as a gateway
// process: with crashChildEnv set, the binary runs one daemon
// (runCrashChild in crash_test.go) instead of the tests.
func TestMain(m *testing.M) {
	if spec := os.Getenv(crashChildEnv); spec != "" {
		os.Exit(crashChild(spec))
	}
	os.Exit(m.Run())
}

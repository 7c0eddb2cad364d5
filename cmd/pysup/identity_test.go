package main

import (
	"os"
	"strings"
	"testing"
)

// The Lease identity is POD_NAME when set; without it, the hostname with a
// random suffix, different in every pysup, so two pods sharing a hostname
// (hostNetwork on one node) never both hold a Lease.
func TestLeaseIdentity(t *testing.T) {
	t.Setenv("POD_NAME", "web-0")
	if id, err := leaseIdentity(); err != nil || id != "web-0" {
		t.Errorf("with POD_NAME: %q, %v; want web-0", id, err)
	}
	t.Setenv("POD_NAME", "")
	host, _ := os.Hostname()
	a, err := leaseIdentity()
	b, _ := leaseIdentity()
	if err != nil || a == b || !strings.HasPrefix(a, host+"_") || len(a) <= len(host)+1 {
		t.Errorf("without POD_NAME: %q and %q (%v); want %s_ and a different suffix each", a, b, err, host)
	}
}

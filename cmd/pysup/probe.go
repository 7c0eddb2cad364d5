package main

import (
	"fmt"
	"io"
)

// probeMain is `pysup probe live|ready|startup`, for exec probes.
func probeMain(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "pysup probe: not wired yet")
	return exitUsage
}

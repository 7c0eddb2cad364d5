package main

import (
	"context"
	"io"
	"os"

	"github.com/pysup/pysup/internal/config"
	"github.com/pysup/pysup/internal/probe"
)

// probeMain is `pysup probe live|ready|startup [--addr HOST:PORT]`, for
// exec probes: it asks the running pysup at PYSUP_HTTP_ADDR.
func probeMain(args []string, _, stderr io.Writer) int {
	listen, ok := os.LookupEnv("PYSUP_HTTP_ADDR")
	if !ok {
		listen = config.Default("PYSUP_HTTP_ADDR")
	}
	return probe.Main(context.Background(), args, listen, stderr)
}

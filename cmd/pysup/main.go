// Command pysup runs a Python app as PID 1 of its container and makes it a
// good Kubernetes citizen: reaping, signals, graceful draining, probes, JSON
// logs, metrics and ZeroMQ balancing. See README.md.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/pysup/pysup/internal/config"
	"github.com/pysup/pysup/internal/supervisor"
)

// Exit codes of pysup itself; otherwise pysup exits with the child's.
const (
	exitUsage = 2
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "version", "--version":
			printVersion(stdout)
			return 0
		case "probe":
			return probeMain(args[1:], stdout, stderr)
		case "help":
			if len(args) > 1 && args[1] == "--markdown" {
				config.WriteReference(stdout)
				return 0
			}
			printHelp(stdout)
			return 0
		}
	}
	// Catching pysup's signals is a thread round trip per signal: begun
	// here, it overlaps the configuration and setup, and run waits for it
	// before starting anything.
	sigs, caught := supervisor.NotifyBackground()
	cfg, err := config.Load(args, config.Environ())
	if errors.Is(err, config.ErrHelp) {
		printHelp(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "pysup: %v\nRun pysup --help for every setting.\n", err)
		return exitUsage
	}
	return run(cfg, sigs, caught, stderr)
}

package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/pysup/pysup/internal/config"
)

func printHelp(w io.Writer) {
	fmt.Fprint(w, `pysup runs a Python app as PID 1 of its container.

Usage:
  pysup [flags] -- COMMAND [ARG...]   run COMMAND as the supervised child
  pysup probe live|ready|startup      ask a running pysup (for exec probes)
  pysup version                       print version, commit and Go version

Every flag is also an environment variable; a flag wins.

Flags:
`)
	for _, f := range config.Fields() {
		arg := " VALUE"
		if f.Bool {
			arg = "[=BOOL]"
		}
		def := ""
		if f.Default != "" {
			def = fmt.Sprintf(" (default %q)", f.Default)
		}
		fmt.Fprintf(w, "  --%s%s\n      %s%s\n      env %s\n", f.Flag, arg, strings.TrimSpace(f.Help), def, f.Env)
	}
	fmt.Fprint(w, `
Exit status: the child's; 128+N when it died of signal N; 2 for a usage or
configuration error; 126/127 when the command cannot be run or found.
`)
}

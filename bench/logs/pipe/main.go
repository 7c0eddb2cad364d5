// Command pipe runs a command with its stdout and stderr through the logs
// Pipeline (JSON enrichment, pod metadata from the environment) and writes
// the records to its own stdout: a stand-in for the wired pysup binary in
// the logs benchmark.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/pysup/pysup/internal/logs"
	"github.com/pysup/pysup/internal/podinfo"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pipe COMMAND [ARG...]")
		os.Exit(2)
	}
	pod, _ := podinfo.NewSource(os.Getenv, podinfo.DefaultDir)
	p, err := logs.New(logs.Options{Pod: pod, Output: os.Stdout})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go p.Run(context.Background())
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, p.Stdout(), p.Stderr()
	runErr := cmd.Run()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.Shutdown(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	if runErr != nil {
		fmt.Fprintln(os.Stderr, runErr)
		os.Exit(1)
	}
}

// Command empty is a Go program that does nothing: bench/start.sh runs it
// beside /bin/true to show what the Go runtime's own start and exit cost,
// before any PID-1 work.
package main

func main() {}

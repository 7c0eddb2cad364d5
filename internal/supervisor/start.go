package supervisor

import (
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// start launches the command in its own process group, so that signals to
// the group reach gunicorn's workers too and never pysup itself.
func (s *Supervisor) start() (*child, error) {
	path, err := LookPath(s.opts.Argv[0], s.opts.Env)
	if err != nil {
		return nil, err
	}
	files := []*os.File{s.opts.Stdin, s.opts.Stdout, s.opts.Stderr}
	defaults := []*os.File{os.Stdin, os.Stdout, os.Stderr}
	fds := make([]uintptr, 3)
	for i, f := range files {
		if f == nil {
			f = defaults[i]
		}
		fds[i] = f.Fd()
	}
	sys := &syscall.SysProcAttr{
		Setpgid: true,
		// Outside a container, a pysup killed with SIGKILL must not leave
		// the app running behind it.
		Pdeathsig: syscall.SIGKILL,
	}
	if s.opts.Identity != nil {
		sys.Credential = s.opts.Identity.Credential
	}
	// With a terminal on stdin the child's group must own it, or reading
	// it stops the app with SIGTTIN and Ctrl-C never reaches it; but only
	// when the terminal is ours to give: a backgrounded pysup must not take
	// it from the shell.
	if s.opts.Stdin == nil && ownsTerminal(0) {
		sys.Foreground = true
		sys.Ctty = 0
	}
	attr := &syscall.ProcAttr{Env: s.opts.Env, Files: fds, Sys: sys}
	pid, done, err := s.reaper.Start(path, s.opts.Argv, attr)
	if err != nil && sys.Foreground {
		// Not our controlling terminal after all: run in the background.
		sys.Foreground = false
		pid, done, err = s.reaper.Start(path, s.opts.Argv, attr)
	}
	if err != nil {
		code := ExitNotExecutable
		if os.IsNotExist(err) {
			code = ExitNotFound
		}
		return nil, &StartError{Path: path, Code: code, Err: err}
	}
	return &child{pid: pid, done: done, started: time.Now()}, nil
}

// ownsTerminal reports whether fd is a terminal whose foreground process
// group is ours.
func ownsTerminal(fd int) bool {
	fg, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	return err == nil && fg == unix.Getpgrp()
}

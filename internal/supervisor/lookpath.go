package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Shell conventions for a command that could not be run.
const (
	ExitNotExecutable = 126
	ExitNotFound      = 127
)

// StartError is a child that could not be started. Code is the shell's
// status for it: 127 not found, 126 not executable.
type StartError struct {
	Path string
	Code int
	Err  error
}

func (e *StartError) Error() string { return fmt.Sprintf("cannot run %s: %v", e.Path, e.Err) }
func (e *StartError) Unwrap() error { return e.Err }

// ExitCode is the shell's status for the failure.
func (e *StartError) ExitCode() int { return e.Code }

// LookPath finds file in the PATH of env (the child's environment, not
// pysup's: the image's ENV PATH is what the user expects to apply). Its
// errors are *StartError with the shell's status.
func LookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		if err := executable(file); err != nil {
			return "", err
		}
		return file, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	var denied error
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		err := executable(p)
		if err == nil {
			return p, nil
		}
		var se *StartError
		if errors.As(err, &se) && se.Code == ExitNotExecutable && denied == nil {
			denied = err
		}
	}
	if denied != nil {
		return "", denied
	}
	return "", &StartError{Path: file, Code: ExitNotFound, Err: errors.New("not found in PATH")}
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &StartError{Path: p, Code: ExitNotFound, Err: err}
		}
		return &StartError{Path: p, Code: ExitNotExecutable, Err: err}
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return &StartError{Path: p, Code: ExitNotExecutable, Err: errors.New("not an executable file")}
	}
	return nil
}

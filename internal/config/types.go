package config

import (
	"fmt"
	"time"
)

// AutoDuration is a duration that may be left to pysup ("auto").
type AutoDuration struct {
	D    time.Duration
	Auto bool
}

// UnmarshalText reads "auto" or a Go duration ("5s").
func (a *AutoDuration) UnmarshalText(b []byte) error {
	if string(b) == "auto" {
		*a = AutoDuration{Auto: true}
		return nil
	}
	d, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	if d < 0 {
		return errInvalid("must not be negative")
	}
	*a = AutoDuration{D: d}
	return nil
}

// Or returns the duration, or def when it is left to pysup.
func (a AutoDuration) Or(def time.Duration) time.Duration {
	if a.Auto {
		return def
	}
	return a.D
}

func errInvalid(format string, args ...any) error { return fmt.Errorf(format, args...) }

package signals

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Rewrite maps a received signal to the one the child gets, as dumb-init's
// --rewrite does. A mapping to 0 drops the signal.
type Rewrite map[Signal]Signal

// ParseRewrite reads "TERM:QUIT,HUP:0" and reports every bad entry.
func ParseRewrite(s string) (Rewrite, error) {
	rw := Rewrite{}
	var errs []error
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		from, to, ok := strings.Cut(item, ":")
		if !ok {
			errs = append(errs, fmt.Errorf("%q: want FROM:TO", item))
			continue
		}
		f, err := Parse(from)
		if err == nil && f == 0 {
			err = errors.New("cannot rewrite signal 0")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%q: %w", item, err))
			continue
		}
		t, err := Parse(to)
		if err != nil {
			errs = append(errs, fmt.Errorf("%q: %w", item, err))
			continue
		}
		rw[f] = t
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rw, nil
}

// UnmarshalText lets configuration parse rewrite tables.
func (rw *Rewrite) UnmarshalText(b []byte) error {
	v, err := ParseRewrite(string(b))
	if err != nil {
		return err
	}
	*rw = v
	return nil
}

// Apply returns what the child gets for sig; ok is false when sig is dropped.
func (rw Rewrite) Apply(sig Signal) (Signal, bool) {
	if to, found := rw[sig]; found {
		return to, to != 0
	}
	return sig, true
}

// Merge returns rw with the entries of over added on top.
func (rw Rewrite) Merge(over Rewrite) Rewrite {
	out := make(Rewrite, len(rw)+len(over))
	for k, v := range rw {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// String prints the table in the form ParseRewrite reads, sorted.
func (rw Rewrite) String() string {
	keys := make([]Signal, 0, len(rw))
	for k := range rw {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k.String() + ":" + rw[k].String()
	}
	return strings.Join(parts, ",")
}

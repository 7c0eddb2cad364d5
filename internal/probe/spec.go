package probe

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Kind is the kind of a check.
type Kind string

// The kinds of checks.
const (
	KindTCP    Kind = "tcp"
	KindHTTP   Kind = "http"
	KindZMQ    Kind = "zmq"
	KindExec   Kind = "exec"
	KindNotify Kind = "notify"
)

// Spec is one parsed check, as written in PYSUP_READY_CHECK and friends:
//
//	tcp://HOST:PORT
//	http://HOST:PORT/PATH (https:// too, unverified, as the kubelet does)
//	zmq://HOST:PORT?send=ping (send may repeat: one frame each)
//	exec:ARGV (split like a shell would split words, but run without one)
//	notify
//
// URL forms and notify take the query parameters period=, timeout=,
// failures= and successes=, overriding the defaults for this check.
type Spec struct {
	// Raw is the spec as written; it names the check in probe answers.
	Raw  string
	Kind Kind
	// Addr is HOST:PORT for tcp and zmq checks.
	Addr string
	// URL is the address an http check GETs, without pysup's own
	// query parameters.
	URL string
	// Send holds the frames of a zmq check's request.
	Send []string
	// Argv is an exec check's command.
	Argv []string
	// Overrides; zero means the default.
	Period    time.Duration
	Timeout   time.Duration
	Failures  int
	Successes int
}

// Specs is a list of checks. Its text form separates specs with commas or
// newlines; a comma inside quotes (in an exec spec) does not separate.
type Specs []Spec

// UnmarshalText parses a list of specs, reporting every bad one.
func (s *Specs) UnmarshalText(b []byte) error {
	out, err := ParseSpecs(string(b))
	if err != nil {
		return err
	}
	*s = out
	return nil
}

// String is the list as it would be written.
func (s Specs) String() string {
	raw := make([]string, len(s))
	for i, sp := range s {
		raw[i] = sp.Raw
	}
	return strings.Join(raw, ",")
}

// Has reports whether the list holds a check of kind k.
func (s Specs) Has(k Kind) bool {
	for _, sp := range s {
		if sp.Kind == k {
			return true
		}
	}
	return false
}

// ParseSpecs parses a list of specs (see Specs). Blank items are skipped.
// The error lists every bad spec.
func ParseSpecs(text string) (Specs, error) {
	items, err := splitList(text)
	if err != nil {
		return nil, err
	}
	var out Specs
	var errs []error
	for _, it := range items {
		sp, err := ParseSpec(it)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, sp)
	}
	if len(errs) > 0 {
		return out, specErrors(errs)
	}
	return out, nil
}

// specErrors lists every bad spec of a list on one line, so the
// configuration's list of problems stays one line per variable.
type specErrors []error

func (e specErrors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (e specErrors) Unwrap() []error { return e }

// splitList splits on commas and newlines outside quotes.
func splitList(text string) ([]string, error) {
	var items []string
	var cur strings.Builder
	var quote rune
	escaped := false
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			items = append(items, s)
		}
		cur.Reset()
	}
	for _, r := range text {
		switch {
		case escaped:
			escaped = false
		case r == '\\' && quote != '\'':
			escaped = true
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == ',' || r == '\n':
			flush()
			continue
		}
		cur.WriteRune(r)
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote in %q", quote, text)
	}
	flush()
	return items, nil
}

// ParseSpec parses one check spec.
func ParseSpec(raw string) (Spec, error) {
	raw = strings.TrimSpace(raw)
	sp := Spec{Raw: raw}
	fail := func(format string, args ...any) (Spec, error) {
		return Spec{}, fmt.Errorf("check %q: %s", raw, fmt.Sprintf(format, args...))
	}
	if rest, ok := strings.CutPrefix(raw, "exec:"); ok {
		argv, err := splitWords(rest)
		if err != nil {
			return fail("%v", err)
		}
		if len(argv) == 0 {
			return fail("exec needs a command")
		}
		sp.Kind, sp.Argv = KindExec, argv
		return sp, nil
	}
	if raw == "notify" || strings.HasPrefix(raw, "notify?") {
		q, err := url.ParseQuery(strings.TrimPrefix(strings.TrimPrefix(raw, "notify"), "?"))
		if err != nil {
			return fail("%v", err)
		}
		sp.Kind = KindNotify
		if err := sp.overrides(q); err != nil {
			return fail("%v", err)
		}
		if len(q) > 0 {
			return fail("unknown parameter %q", firstKey(q))
		}
		return sp, nil
	}
	if !strings.Contains(raw, "://") {
		return fail("want tcp://HOST:PORT, http://HOST:PORT/PATH, zmq://HOST:PORT, exec:ARGV or notify")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fail("%v", errors.Unwrap(err))
	}
	if u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return fail("unexpected user info, fragment or opaque part")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fail("%v", err)
	}
	if err := sp.overrides(q); err != nil {
		return fail("%v", err)
	}
	switch u.Scheme {
	case "tcp", "zmq":
		if u.Path != "" {
			return fail("%s takes no path", u.Scheme)
		}
		if err := hostPort(u.Host); err != nil {
			return fail("%v", err)
		}
		sp.Addr = u.Host
		sp.Kind = Kind(u.Scheme)
		if sp.Kind == KindZMQ {
			sp.Send = q["send"]
			delete(q, "send")
			if len(sp.Send) == 0 {
				sp.Send = []string{"ping"}
			}
		}
		if len(q) > 0 {
			return fail("unknown parameter %q", firstKey(q))
		}
	case "http", "https":
		if u.Port() != "" {
			if err := hostPort(u.Host); err != nil {
				return fail("%v", err)
			}
		} else if u.Hostname() == "" {
			return fail("missing host")
		}
		// The remaining parameters belong to the app's URL.
		u.RawQuery = q.Encode()
		sp.Kind, sp.URL = KindHTTP, u.String()
	default:
		return fail("unknown scheme %q", u.Scheme)
	}
	return sp, nil
}

// overrides moves period=, timeout=, failures= and successes= from q into sp.
func (sp *Spec) overrides(q url.Values) error {
	durs := []struct {
		key string
		dst *time.Duration
	}{{"period", &sp.Period}, {"timeout", &sp.Timeout}}
	for _, d := range durs {
		v, ok, err := single(q, d.key)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		t, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%s: %w", d.key, err)
		}
		if t <= 0 {
			return fmt.Errorf("%s: must be positive, got %s", d.key, v)
		}
		*d.dst = t
	}
	ints := []struct {
		key string
		dst *int
	}{{"failures", &sp.Failures}, {"successes", &sp.Successes}}
	for _, d := range ints {
		v, ok, err := single(q, d.key)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return fmt.Errorf("%s: want a whole number from 1 to 1000, got %q", d.key, v)
		}
		*d.dst = n
	}
	return nil
}

// single takes key out of q, requiring at most one value.
func single(q url.Values, key string) (string, bool, error) {
	vs, ok := q[key]
	if !ok {
		return "", false, nil
	}
	delete(q, key)
	if len(vs) != 1 {
		return "", false, fmt.Errorf("%s given %d times", key, len(vs))
	}
	return vs[0], true, nil
}

func firstKey(q url.Values) string {
	first := ""
	for k := range q {
		if first == "" || k < first {
			first = k
		}
	}
	return first
}

func hostPort(hp string) error {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return fmt.Errorf("want HOST:PORT, got %q", hp)
	}
	if host == "" {
		return fmt.Errorf("missing host in %q", hp)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// splitWords splits s into words as a POSIX shell would, honouring single
// quotes, double quotes and backslashes, but expanding nothing: exec checks
// never run a shell.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote == '"':
			switch r {
			case '"':
				quote = 0
			case '\\':
				escaped = true
			default:
				cur.WriteRune(r)
			}
		case r == '\\':
			escaped, inWord = true, true
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if escaped {
		return nil, errors.New("trailing backslash")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

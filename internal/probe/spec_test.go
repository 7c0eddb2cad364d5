package probe

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseSpec(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Spec
	}{
		{"tcp://127.0.0.1:8000", Spec{Kind: KindTCP, Addr: "127.0.0.1:8000"}},
		{"tcp://[::1]:8000?failures=5", Spec{Kind: KindTCP, Addr: "[::1]:8000", Failures: 5}},
		{"http://localhost:8000/healthz?db=1&period=2s", Spec{Kind: KindHTTP, URL: "http://localhost:8000/healthz?db=1", Period: 2 * time.Second}},
		{"https://app/healthz", Spec{Kind: KindHTTP, URL: "https://app/healthz"}},
		{"zmq://127.0.0.1:5555?send=ping&timeout=50ms", Spec{Kind: KindZMQ, Addr: "127.0.0.1:5555", Send: []string{"ping"}, Timeout: 50 * time.Millisecond}},
		{"zmq://127.0.0.1:5555", Spec{Kind: KindZMQ, Addr: "127.0.0.1:5555", Send: []string{"ping"}}},
		{"zmq://h:1?send=a&send=b&successes=2", Spec{Kind: KindZMQ, Addr: "h:1", Send: []string{"a", "b"}, Successes: 2}},
		{`exec:python3 -c "import sys; sys.exit(0)"`, Spec{Kind: KindExec, Argv: []string{"python3", "-c", "import sys; sys.exit(0)"}}},
		{`exec:a 'b c' d\ e ""`, Spec{Kind: KindExec, Argv: []string{"a", "b c", "d e", ""}}},
		{"notify", Spec{Kind: KindNotify}},
		{"notify?failures=2", Spec{Kind: KindNotify, Failures: 2}},
	} {
		got, err := ParseSpec(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		c.want.Raw = c.in
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.in, got, c.want)
		}
	}
}

func TestParseSpecErrors(t *testing.T) {
	for in, want := range map[string]string{
		"":                                  "want tcp://",
		"tcp://127.0.0.1":                   "want HOST:PORT",
		"tcp://:80":                         "missing host",
		"tcp://h:0":                         "bad port",
		"tcp://h:1/path":                    "no path",
		"tcp://h:1?bogus=1":                 `unknown parameter "bogus"`,
		"zmq://h:1?sned=x":                  `unknown parameter "sned"`,
		"http://h:1/?period=0s":             "must be positive",
		"http://h:1/?period=soon":           "period",
		"http://h:1/?failures=0":            "from 1 to 1000",
		"http://h:1/?timeout=1s&timeout=2s": "given 2 times",
		"http://:1/x":                       "missing host",
		"ftp://h:1":                         `unknown scheme "ftp"`,
		"exec:":                             "needs a command",
		`exec:a "b`:                         "unterminated",
		"notify?x=1":                        `unknown parameter "x"`,
		"notifyme":                          "want tcp://",
		"http://u:p@h:1/":                   "user info",
	} {
		_, err := ParseSpec(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want an error with %q", in, err, want)
		}
	}
}

func TestParseSpecs(t *testing.T) {
	s, err := ParseSpecs("tcp://a:1, notify\n exec:sh -c 'x, y' ,,")
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 3 || s[2].Argv[2] != "x, y" || !s.Has(KindNotify) || s.Has(KindZMQ) {
		t.Fatalf("got %+v", s)
	}
	if s.String() != "tcp://a:1,notify,exec:sh -c 'x, y'" {
		t.Fatalf("String: %s", s)
	}
	_, err = ParseSpecs("tcp://a, ftp://b:1, notify")
	if err == nil || !strings.Contains(err.Error(), `"tcp://a"`) || !strings.Contains(err.Error(), `"ftp://b:1"`) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("every bad spec on one line: %v", err)
	}
}

// FuzzParseSpecs: no input panics, and a parsed spec is usable: its kind
// has what the check needs.
func FuzzParseSpecs(f *testing.F) {
	for _, s := range []string{
		"tcp://127.0.0.1:8000", "http://h:1/p?q=1&period=1s", "zmq://h:1?send=a&send=b&timeout=50ms",
		`exec:sh -c "a, b"`, "notify?failures=2", "a,b\nc", `exec:'unterminated`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		specs, err := ParseSpecs(in)
		if err != nil {
			return
		}
		for _, s := range specs {
			switch s.Kind {
			case KindTCP, KindZMQ:
				if err := hostPort(s.Addr); err != nil {
					t.Fatalf("%q: %v", s.Raw, err)
				}
			case KindHTTP:
				if s.URL == "" {
					t.Fatalf("%q: no URL", s.Raw)
				}
			case KindExec:
				if len(s.Argv) == 0 {
					t.Fatalf("%q: no argv", s.Raw)
				}
			case KindNotify:
			default:
				t.Fatalf("%q: kind %q", s.Raw, s.Kind)
			}
			if s.Period < 0 || s.Timeout < 0 || s.Failures < 0 || s.Successes < 0 {
				t.Fatalf("%q: negative override", s.Raw)
			}
		}
	})
}

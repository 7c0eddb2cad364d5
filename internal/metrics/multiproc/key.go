package multiproc

import (
	"bytes"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
)

// key is a parsed entry key: json.dumps([metric_name, sample_name, labels,
// help], sort_keys=True). Keys are parsed once per Reader: every worker's
// file repeats the same ones.
type key struct {
	// head and tail are the key as written, cut before the help text
	// (see cutHelp): every key of a metric repeats its help, most of
	// the key's bytes, so keys share their tails. The strings below are
	// mostly substrings of the two.
	head, tail string
	// sameHead is another key with this head and another tail.
	sameHead *key
	// bad is a key that does not parse, remembered as such.
	bad bool

	metric string // metric (family) name as prometheus_client registered it
	sample string // sample name: metric, metric_total, metric_sum, metric_bucket...
	help   string
	labels []label // sorted by name, as labels_key in multiprocess.py
	// labelsKey identifies labels inside a family.
	labelsKey string
	// le is the parsed le label, which makes a histogram sample a bucket;
	// leState says whether there is one and whether it parsed.
	le      float64
	leState leState
	// noLe and noLeKey are labels without le: a bucket's series.
	noLe    []label
	noLeKey string
	// noPid and noPidKey are labels without pid: the series of a gauge
	// whose mode aggregates across workers.
	noPid    []label
	noPidKey string
	// label pairs of labels, noPid and noLe, made on first use
	labelPairs, noPidPairs, noLePairs []*dto.LabelPair
	// next is the key that followed this one in the last file read.
	next *key
	// What the plan being built knows of the key (see buildPlan): valid
	// while build is its id.
	build uint64
	fam   *buildFamily
	slot  int32
}

type leState uint8

const (
	leNone leState = iota
	leOK
	leBad
)

type label struct{ name, value string }

var errKey = errors.New("malformed key")

// parseKey parses a raw key. Keys are written by prometheus_client from
// validated names, so anything else is a torn or hostile entry. What
// json.dumps writes for ASCII names, values and help without escapes
// takes a direct path that slices raw; anything else (escapes, non-ASCII,
// other spacing, unsorted or repeated label names) is decoded by
// encoding/json, to the same result.
func parseKey(raw string) (*key, error) {
	cut := cutHelp(raw)
	return parseCut(raw[:cut], raw[cut:])
}

// parseCut parses the key head+tail, cut by cutHelp.
func parseCut(head, tail string) (*key, error) {
	k := &key{head: head, tail: tail}
	if !k.scanCut(head, tail) {
		if err := k.decodeJSON(head + tail); err != nil {
			return nil, err
		}
	}
	if err := k.finish(); err != nil {
		return nil, err
	}
	return k, nil
}

// helpCut is what ends the labels of a key and starts its help. It never
// occurs inside a JSON string, where a quote is escaped, but it may end
// one (a label value ending in "}, "): such a key is cut early and
// parsed by the slow path.
const helpCut = `}, "`

// cutHelp is where a raw key is cut into head and tail: before its help
// text, or at its end when there is no help to cut off. A malformed key
// is cut somewhere all the same, the same way every time.
func cutHelp(raw string) int {
	if i := strings.Index(raw, helpCut); i >= 0 {
		return i + len(helpCut) - 1
	}
	return len(raw)
}

// cutHelpBytes is cutHelp of a key not yet copied out of its file.
func cutHelpBytes(raw []byte) int {
	if i := bytes.Index(raw, []byte(helpCut)); i >= 0 {
		return i + len(helpCut) - 1
	}
	return len(raw)
}

// is reports whether raw is the key as written.
func (k *key) is(raw []byte) bool {
	return len(raw) == len(k.head)+len(k.tail) && string(raw[:len(k.head)]) == k.head && string(raw[len(k.head):]) == k.tail
}

// scanFast is scanCut of a whole key.
func (k *key) scanFast(s string) bool {
	cut := cutHelp(s)
	return k.scanCut(s[:cut], s[cut:])
}

// scanCut reads exactly `["M", "S", {"N": "V", ...}, "H"]`, cut after
// the labels' ", " into head and tail, with label names strictly
// increasing and strings free of escapes and of bytes outside printable
// ASCII. It reports false for anything else, leaving the decision to
// decodeJSON.
func (k *key) scanCut(s, tail string) bool {
	if len(s) < 2 || s[0] != '[' {
		return false
	}
	pos := 1
	var ok bool
	if k.metric, pos, ok = fastString(s, pos); !ok || !hasAt(s, pos, ", ") {
		return false
	}
	if k.sample, pos, ok = fastString(s, pos+2); !ok || !hasAt(s, pos, ", {") {
		return false
	}
	pos += 3
	var buf [8]label
	ls := buf[:0]
	if pos < len(s) && s[pos] == '}' {
		pos++
	} else {
		for {
			var l label
			if l.name, pos, ok = fastString(s, pos); !ok || !hasAt(s, pos, ": ") {
				return false
			}
			if l.value, pos, ok = fastString(s, pos+2); !ok {
				return false
			}
			if len(ls) > 0 && ls[len(ls)-1].name >= l.name {
				return false // unsorted or repeated: encoding/json decides
			}
			ls = append(ls, l)
			if hasAt(s, pos, ", ") {
				pos += 2
				continue
			}
			if pos < len(s) && s[pos] == '}' {
				pos++
				break
			}
			return false
		}
	}
	if pos+2 != len(s) || !hasAt(s, pos, ", ") {
		return false
	}
	if k.help, pos, ok = fastString(tail, 0); !ok || pos != len(tail)-1 || tail[pos] != ']' {
		return false
	}
	if len(ls) > 0 {
		k.labels = append(make([]label, 0, len(ls)), ls...)
	}
	return true
}

func hasAt(s string, pos int, want string) bool {
	return pos <= len(s) && strings.HasPrefix(s[pos:], want)
}

// fastString reads a JSON string at pos that needs no unescaping and
// holds printable ASCII only, returning its content and the position
// after its closing quote.
func fastString(s string, pos int) (string, int, bool) {
	if pos >= len(s) || s[pos] != '"' {
		return "", 0, false
	}
	start := pos + 1
	end := strings.IndexByte(s[start:], '"')
	if end < 0 {
		return "", 0, false
	}
	v := s[start : start+end]
	if !plainASCII(v) {
		return "", 0, false
	}
	return v, start + end + 1, true
}

// plainASCII reports whether v holds printable ASCII only, without a
// backslash: eight bytes at a time, since help texts make up most of a
// key.
func plainASCII(v string) bool {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	i := 0
	for ; i+8 <= len(v); i += 8 {
		w := uint64(v[i]) | uint64(v[i+1])<<8 | uint64(v[i+2])<<16 | uint64(v[i+3])<<24 |
			uint64(v[i+4])<<32 | uint64(v[i+5])<<40 | uint64(v[i+6])<<48 | uint64(v[i+7])<<56
		// A byte is bad when its high bit is set, when it is below
		// 0x20, 0x7f, or a backslash (0x5c). With the high bits clear,
		// x - 0x20 borrows into the high bit only for bytes below 0x20,
		// x + 1 carries into it only for 0x7f, and x ^ 0x5c is zero only
		// for a backslash.
		low := w - 0x20*ones
		del := w + ones
		bs := w ^ 0x5c*ones
		if (w|low|del|(bs-ones)&^bs)&high != 0 {
			return false
		}
	}
	for ; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e || c == '\\' {
			return false
		}
	}
	return true
}

// decodeJSON reads any JSON spelling of the key.
func (k *key) decodeJSON(raw string) error {
	if !utf8.ValidString(raw) {
		return errKey
	}
	var parts []json.RawMessage
	if err := json.Unmarshal([]byte(raw), &parts); err != nil || len(parts) != 4 {
		return errKey
	}
	var labels map[string]string
	if json.Unmarshal(parts[0], &k.metric) != nil ||
		json.Unmarshal(parts[1], &k.sample) != nil ||
		json.Unmarshal(parts[2], &labels) != nil ||
		json.Unmarshal(parts[3], &k.help) != nil {
		return errKey
	}
	k.labels = nil
	if len(labels) > 0 {
		k.labels = make([]label, 0, len(labels))
	}
	for n, v := range labels {
		k.labels = append(k.labels, label{n, v})
	}
	sort.Slice(k.labels, func(i, j int) bool { return k.labels[i].name < k.labels[j].name })
	return nil
}

// finish validates the names and derives what aggregation needs.
func (k *key) finish() error {
	if !model.LegacyValidation.IsValidMetricName(k.metric) || !model.LegacyValidation.IsValidMetricName(k.sample) {
		return errKey
	}
	le, pid := -1, -1
	for i, l := range k.labels {
		if !model.LegacyValidation.IsValidLabelName(l.name) || strings.HasPrefix(l.name, "__") {
			return errKey
		}
		switch l.name {
		case "le":
			le = i
		case "pid":
			pid = i
		}
	}
	k.labelsKey = labelsKey(k.labels)
	k.noLe, k.noLeKey = k.labels, k.labelsKey
	k.noPid, k.noPidKey = k.labels, k.labelsKey
	if le >= 0 {
		// float() in Python accepts what ParseFloat does, give or take
		// spellings prometheus_client never writes.
		f, err := strconv.ParseFloat(strings.TrimSpace(k.labels[le].value), 64)
		if err != nil {
			k.leState = leBad
		} else {
			k.le, k.leState = f, leOK
		}
		k.noLe = without(k.labels, le)
		k.noLeKey = labelsKey(k.noLe)
	}
	if pid >= 0 {
		k.noPid = without(k.labels, pid)
		k.noPidKey = labelsKey(k.noPid)
	}
	return nil
}

func without(ls []label, i int) []label {
	out := make([]label, 0, len(ls)-1)
	out = append(out, ls[:i]...)
	return append(out, ls[i+1:]...)
}

// labelsKey encodes labels unambiguously: names are [a-zA-Z0-9_] and
// values are valid UTF-8, which never contains 0xff.
func labelsKey(ls []label) string {
	n := 0
	for _, l := range ls {
		n += len(l.name) + len(l.value) + 2
	}
	var b strings.Builder
	b.Grow(n)
	for _, l := range ls {
		b.WriteString(l.name)
		b.WriteByte(0xfe)
		b.WriteString(l.value)
		b.WriteByte(0xff)
	}
	return b.String()
}

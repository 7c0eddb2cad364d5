package multiproc

import (
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/common/model"
)

// key is a parsed entry key: json.dumps([metric_name, sample_name, labels,
// help], sort_keys=True).
type key struct {
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
// validated names, so anything else is a torn or hostile entry.
func parseKey(raw []byte) (*key, error) {
	if !utf8.Valid(raw) {
		return nil, errKey
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil || len(parts) != 4 {
		return nil, errKey
	}
	k := &key{}
	var labels map[string]string
	if json.Unmarshal(parts[0], &k.metric) != nil ||
		json.Unmarshal(parts[1], &k.sample) != nil ||
		json.Unmarshal(parts[2], &labels) != nil ||
		json.Unmarshal(parts[3], &k.help) != nil {
		return nil, errKey
	}
	if !model.LegacyValidation.IsValidMetricName(k.metric) || !model.LegacyValidation.IsValidMetricName(k.sample) {
		return nil, errKey
	}
	k.labels = make([]label, 0, len(labels))
	for n, v := range labels {
		if !model.LegacyValidation.IsValidLabelName(n) || strings.HasPrefix(n, "__") {
			return nil, errKey
		}
		k.labels = append(k.labels, label{n, v})
	}
	sort.Slice(k.labels, func(i, j int) bool { return k.labels[i].name < k.labels[j].name })
	k.labelsKey = labelsKey(k.labels)
	k.noLe, k.noLeKey = k.labels, k.labelsKey
	if v, ok := labels["le"]; ok {
		// float() in Python accepts what ParseFloat does, give or take
		// spellings prometheus_client never writes.
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			k.leState = leBad
		} else {
			k.le, k.leState = f, leOK
		}
		k.noLe = make([]label, 0, len(k.labels)-1)
		for _, l := range k.labels {
			if l.name != "le" {
				k.noLe = append(k.noLe, l)
			}
		}
		k.noLeKey = labelsKey(k.noLe)
	}
	return k, nil
}

// labelsKey encodes labels unambiguously: names are [a-zA-Z0-9_] and
// values are valid UTF-8, which never contains 0xff.
func labelsKey(ls []label) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(l.name)
		b.WriteByte(0xfe)
		b.WriteString(l.value)
		b.WriteByte(0xff)
	}
	return b.String()
}

package podinfo

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// ParseDownwardFile reads the Downward API volume format of the labels and
// annotations files: one `key="value"` line per entry, the value quoted as
// Go's %q does (the kubelet formats it with fmt.Sprintf("%s=%q")). Lines that
// do not parse are reported but do not hide the others.
func ParseDownwardFile(data []byte) (map[string]string, error) {
	m := make(map[string]string)
	var bad []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	// Annotations may hold large values (e.g. last-applied-configuration).
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			bad = append(bad, line)
			continue
		}
		uv, err := strconv.Unquote(v)
		if err != nil {
			// Tolerate an unquoted value rather than lose the entry.
			uv = v
		}
		m[k] = uv
	}
	if err := sc.Err(); err != nil {
		return m, fmt.Errorf("reading downward API file: %w", err)
	}
	if len(bad) > 0 {
		return m, fmt.Errorf("downward API file: %d malformed line(s), first %q", len(bad), bad[0])
	}
	return m, nil
}

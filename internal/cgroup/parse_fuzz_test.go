package cgroup

import (
	"bufio"
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseMatchesScanner: the parsers read what the kernel writes as the
// bufio.Scanner and strings.Fields versions before them did. Inputs the
// kernel never writes, where the two may differ on purpose, are skipped:
// carriage returns, lines longer than a Scanner's token, and mountinfo
// lines whose fields are not separated by single spaces.
func FuzzParseMatchesScanner(f *testing.F) {
	f.Add([]byte("0::/app\n4:cpu,cpuacct:/docker/x\n1:name=systemd:/a:b\n"),
		[]byte("35 31 0:32 /docker /sys/fs/cgroup/memory rw shared:9 - cgroup cgroup rw,memory\n"+
			`41 31 0:38 / /sys/fs/cgroup/a\040b rw - cgroup2 cgroup2 rw`+"\n"+
			"22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"+
			"23 22 0:5 / /dev rw - devtmpfs udev rw\n"+
			"50 31 0:40 / /x rw - cgroupfs none rw\n"))
	f.Add([]byte("garbage\n::\n0::\n"), []byte("1 2 3 4 5 6 - cgroup\n1 2 3 4 5 6 -\n- - - - - - - cgroup2\n"))
	f.Fuzz(func(t *testing.T, cg, mi []byte) {
		if bytes.ContainsRune(cg, '\r') || longLine(cg, bufio.MaxScanTokenSize) || longLine(mi, 1<<20) {
			t.Skip()
		}
		if got, want := parseProcCgroup(cg), scannerProcCgroup(cg); !reflect.DeepEqual(got, want) {
			t.Errorf("parseProcCgroup(%q) = %+v, the Scanner version %+v", cg, got, want)
		}
		for line := range strings.Lines(string(mi)) {
			line = strings.TrimSuffix(line, "\n")
			if line != strings.Join(strings.Fields(line), " ") {
				t.Skip()
			}
		}
		if got, want := parseMountinfo(mi), scannerMountinfo(mi); !reflect.DeepEqual(got, want) {
			t.Errorf("parseMountinfo(%q) = %+v, the Scanner version %+v", mi, got, want)
		}
	})
}

func longLine(b []byte, limit int) bool {
	for line := range bytes.Lines(b) {
		if len(line) >= limit {
			return true
		}
	}
	return false
}

// scannerProcCgroup is parseProcCgroup as it was with a bufio.Scanner.
func scannerProcCgroup(b []byte) []membership {
	var out []membership
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		m := membership{path: parts[2]}
		if parts[1] != "" {
			m.controllers = strings.Split(parts[1], ",")
		}
		out = append(out, m)
	}
	return out
}

// scannerMountinfo is parseMountinfo as it was with a bufio.Scanner.
func scannerMountinfo(b []byte) []mount {
	var out []mount
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if len(f) < 5 || sep < 0 || sep+1 >= len(f) {
			continue
		}
		fstype := f[sep+1]
		if fstype != "cgroup" && fstype != "cgroup2" {
			continue
		}
		m := mount{root: unescape(f[3]), point: unescape(f[4]), v2: fstype == "cgroup2"}
		if sep+3 < len(f) {
			m.options = strings.Split(f[sep+3], ",")
		}
		out = append(out, m)
	}
	return out
}

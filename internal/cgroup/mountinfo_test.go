package cgroup

import "testing"

func TestMountinfoEscapes(t *testing.T) {
	ms := parseMountinfo([]byte(`41 31 0:38 / /sys/fs/cgroup/with\040space rw - cgroup2 cgroup2 rw` + "\n" + "garbage\n"))
	if len(ms) != 1 || ms[0].point != "/sys/fs/cgroup/with space" || !ms[0].v2 {
		t.Errorf("mounts = %+v", ms)
	}
}

// FuzzParse feeds arbitrary /proc/PID/cgroup and mountinfo text to the
// parsers and the path mapping: never a panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte("0::/app\n4:cpu,cpuacct:/docker/x\n"), []byte(`35 31 0:32 /docker /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory`+"\n"+`41 31 0:38 / /sys/fs/cgroup/a\040b rw - cgroup2 cgroup2 rw`))
	f.Fuzz(func(t *testing.T, cg, mi []byte) {
		ms, mounts := parseProcCgroup(cg), parseMountinfo(mi)
		for _, c := range []string{"cpu", "memory"} {
			dirs, _, err := locate(c, ms, mounts, "/nonexistent")
			if err == nil && dirs != nil && len(dirs) == 0 {
				t.Fatal("located no directory without an error")
			}
		}
	})
}

package podinfo

import (
	"os"
	"path/filepath"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// writeVolume lays files out the way the kubelet's atomic writer does: a
// timestamped directory, a ..data symlink to it, and per-file symlinks
// through ..data; an update swaps ..data.
func writeVolume(t *testing.T, dir, version, labels, annotations string) {
	t.Helper()
	ts := filepath.Join(dir, "..2024_"+version)
	if err := os.Mkdir(ts, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"labels": labels, "annotations": annotations} {
		if err := os.WriteFile(filepath.Join(ts, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); os.IsNotExist(err) {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				t.Fatal(err)
			}
		}
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

func TestSourceDownwardVolume(t *testing.T) {
	dir := t.TempDir()
	writeVolume(t, dir, "1", "app=\"web\"\npod-template-hash=\"abc\"\n",
		"note=\"line one\\nline \\\"two\\\"\"\n")
	s, err := NewSource(env(map[string]string{
		"POD_NAME": "web-1", "POD_NAMESPACE": "prod", "POD_UID": "u-1",
		"POD_IP": "10.0.0.7", "NODE_NAME": "node-a", "CONTAINER_NAME": "app",
	}), dir)
	if err != nil {
		t.Fatal(err)
	}
	p := s.Pod()
	if p == nil || p.Name != "web-1" || p.Labels["app"] != "web" || p.Annotations["note"] != "line one\nline \"two\"" {
		t.Fatalf("pod = %+v", p)
	}
	if changed, err := s.Refresh(); changed || err != nil {
		t.Fatalf("refresh without change: changed=%v err=%v", changed, err)
	}
	writeVolume(t, dir, "2", "app=\"web\"\nversion=\"2\"\n", "")
	if changed, err := s.Refresh(); !changed || err != nil {
		t.Fatalf("refresh after swap: changed=%v err=%v", changed, err)
	}
	if q := s.Pod(); q == p || q.Labels["version"] != "2" || q.Annotations != nil {
		t.Fatalf("after update: %+v", q)
	}
	if p.Labels["version"] != "" {
		t.Fatal("old Pod was modified")
	}
	var keys []string
	for _, f := range s.Pod().Fields() {
		keys = append(keys, f.Key)
	}
	want := "[pod_name namespace_name pod_id pod_ip host container_name labels]"
	if got := fmtKeys(keys); got != want {
		t.Fatalf("fields %s, want %s", got, want)
	}
}

func fmtKeys(k []string) string {
	s := "["
	for i, x := range k {
		if i > 0 {
			s += " "
		}
		s += x
	}
	return s + "]"
}

func TestSourceOutsideKubernetes(t *testing.T) {
	s, err := NewSource(env(nil), filepath.Join(t.TempDir(), "missing"))
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Pod(); p != nil || p.Fields() != nil {
		t.Fatalf("pod outside kubernetes: %+v", p)
	}
}

func TestParseDownwardFileMalformed(t *testing.T) {
	m, err := ParseDownwardFile([]byte("a=\"1\"\ngarbage\nb=plain\n"))
	if err == nil || m["a"] != "1" || m["b"] != "plain" {
		t.Fatalf("m=%v err=%v", m, err)
	}
}

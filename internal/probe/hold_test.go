package probe

import (
	"strings"
	"testing"
)

// A standby pod is live and started; ready unless told otherwise; every
// body says who leads; a child started afterwards is judged as usual.
func TestStandbyAnswers(t *testing.T) {
	for _, ready := range []bool{true, false} {
		h, srv := newHealth(t, Options{})
		h.Election("beat", "standby", "pod-b")
		h.Standby("standby: pod-b leads", ready)
		want := map[string]int{"/livez": 200, "/startupz": 200, "/readyz": 200}
		if !ready {
			want["/readyz"] = 503
		}
		for path, c := range want {
			r := get(t, srv, path)
			if r.Code != c || r.Body.Status != "standby" || r.Body.Reason != "standby: pod-b leads" ||
				!strings.Contains(r.Raw, `"election":{"lease":"beat","role":"standby","leader":"pod-b"}`) {
				t.Errorf("ready=%v %s: %d %s, want %d", ready, path, r.Code, r.Raw, c)
			}
		}
		h.Election("beat", "leader", "pod-a")
		h.ChildStarted(1)
		if r := get(t, srv, "/readyz"); r.Code != 200 || r.Body.Status != "ok" || !strings.Contains(r.Raw, `"role":"leader"`) {
			t.Errorf("leader's child running: %d %s", r.Code, r.Raw)
		}
		h.ChildExited()
		if r := get(t, srv, "/livez"); r.Code != 503 {
			t.Errorf("child exited outside standby: %d %s", r.Code, r.Raw)
		}
	}
}

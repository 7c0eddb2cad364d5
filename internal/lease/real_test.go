package lease

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/discovery/kubetest"
	"github.com/pysup/pysup/internal/kubeapi"
)

// leaseRule is the whole Role pysup needs for Leases.
var leaseRule = kubetest.Rule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}}

// realClient is a Lease client with a ServiceAccount token bound to the
// minimal Role, its config read from a service account directory as in a
// pod.
func realClient(t *testing.T, c *kubetest.Cluster, ns string) (*Client, string) {
	t.Helper()
	token := c.Token(ns, "pysup", "pysup-leases", leaseRule)
	dir := c.ServiceAccountDir(ns, token)
	cfg := kubeapi.Config{Server: c.URL, Dir: dir}
	api, err := kubeapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cfg.Namespace()
	if err != nil || got != ns {
		t.Fatalf("namespace %q %v", got, err)
	}
	return &Client{API: api, Namespace: ns}, token
}

// The Lease client against a real kube-apiserver with the minimal Role:
// get, create, update with resourceVersion concurrency, the fields it does
// not know kept; and the token may do nothing else.
func TestLeaseClientRealAPIServer(t *testing.T) {
	c := kubetest.Start(t)
	const ns = "apps"
	cl, token := realClient(t, c, ns)
	for _, p := range []struct{ method, path string }{
		{"GET", "/api/v1/namespaces/apps/pods"},
		{"GET", "/apis/coordination.k8s.io/v1/namespaces/apps/leases"},
		{"DELETE", "/apis/coordination.k8s.io/v1/namespaces/apps/leases/x"},
		{"GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/x"},
	} {
		if code, _, _ := c.Do(token, p.method, p.path, nil); code != 403 {
			t.Errorf("%s %s with the minimal Role: %d, want 403", p.method, p.path, code)
		}
	}
	ctx := context.Background()
	if _, err := cl.Get(ctx, "beat"); !errors.Is(err, kubeapi.ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	now := time.Now()
	l := &Lease{Name: "beat", Annotations: map[string]string{"a": "1"},
		Spec: Spec{HolderIdentity: "pod-a", LeaseDurationSeconds: 15, AcquireTime: now, RenewTime: now}}
	got, err := cl.Create(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.HolderIdentity != "pod-a" || got.Spec.RenewTime.Sub(now).Abs() > time.Millisecond || got.Annotations["a"] != "1" {
		t.Errorf("created %+v", got)
	}
	if _, err := cl.Create(ctx, l); !errors.Is(err, kubeapi.ErrConflict) {
		t.Errorf("second create: %v, want 409", err)
	}
	// Somebody else labels it: our update keeps the label.
	c.Must("PATCH", "/apis/coordination.k8s.io/v1/namespaces/apps/leases/beat", map[string]any{"metadata": map[string]any{"labels": map[string]string{"team": "x"}}})
	stale := got
	fresh, err := cl.Get(ctx, "beat")
	if err != nil {
		t.Fatal(err)
	}
	stale.Spec.HolderIdentity = "pod-b"
	if _, err := cl.Update(ctx, stale); !errors.Is(err, kubeapi.ErrConflict) {
		t.Fatalf("update with a stale resourceVersion: %v, want 409", err)
	}
	fresh.Spec.HolderIdentity, fresh.Spec.LeaseTransitions = "pod-b", 1
	if _, err := cl.Update(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	_, b, _ := c.Do(c.AdminToken, "GET", "/apis/coordination.k8s.io/v1/namespaces/apps/leases/beat", nil)
	for _, want := range []string{`"team":"x"`, `"holderIdentity":"pod-b"`, `"leaseTransitions":1`, `"a":"1"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("lease lacks %s: %s", want, b)
		}
	}
}

// Leader election between electors on a real API server: one leads, the
// others see it, and a release hands over within a retry period.
func TestElectorRealAPIServer(t *testing.T) {
	c := kubetest.Start(t)
	cl, _ := realClient(t, c, "apps")
	var es []*Elector
	for _, id := range []string{"pod-a", "pod-b", "pod-c"} {
		e, err := NewElector(ElectorConfig{Client: cl, Name: "beat", Identity: id, LeaseDuration: 5 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	won := make(chan *Elector, 3)
	for _, e := range es {
		go func() {
			if _, err := e.Wait(ctx); err == nil {
				won <- e
			}
		}()
	}
	var first *Elector
	select {
	case first = <-won:
	case <-time.After(20 * time.Second):
		t.Fatal("nobody leads")
	}
	// Several renewals and standby tries: the standbys see the leader (a
	// loaded machine may need a while) and none leads too.
	deadline := time.Now().Add(20 * time.Second)
	for _, e := range es {
		for e != first && e.State().Holder != first.cfg.Identity {
			if time.Now().After(deadline) {
				t.Fatalf("%s sees holder %q", e.cfg.Identity, e.State().Holder)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	time.Sleep(time.Second)
	select {
	case e := <-won:
		t.Fatalf("%s leads too", e.cfg.Identity)
	default:
	}
	start := time.Now()
	if err := first.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	var second *Elector
	select {
	case second = <-won:
	case <-time.After(5 * time.Second):
		t.Fatal("nobody took over after the release")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("hand-over after release took %s", took)
	}
	l, err := cl.Get(context.Background(), "beat")
	if err != nil {
		t.Fatal(err)
	}
	if l.Spec.HolderIdentity != second.cfg.Identity || l.Spec.LeaseTransitions != 1 || l.Spec.LeaseDurationSeconds != 5 {
		t.Errorf("record after hand-over: %+v", l.Spec)
	}
	_ = second.Release(context.Background())
}

// onceHelper runs one replica's Once.Do in a process of its own, so the
// test can SIGKILL it mid-run.
func TestOnceHelper(t *testing.T) {
	if os.Getenv("ONCE_HELPER_KEY") == "" {
		t.Skip("helper process for TestOnceRealAPIServer")
	}
	api, err := kubeapi.New(kubeapi.Config{Server: os.Getenv("ONCE_HELPER_SERVER"), Dir: os.Getenv("ONCE_HELPER_SA")})
	if err != nil {
		t.Fatal(err)
	}
	o, err := NewOnce(OnceConfig{Client: &Client{API: api, Namespace: "apps"}, Key: os.Getenv("ONCE_HELPER_KEY"), Identity: os.Getenv("ONCE_HELPER_ID"),
		LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 200 * time.Millisecond,
		Waiting: func(h string) { fmt.Println("WAITING", h) }})
	if err != nil {
		t.Fatal(err)
	}
	err = o.Do(context.Background(), func(ctx context.Context) error {
		cmd := exec.CommandContext(ctx, "sh", "-c", os.Getenv("ONCE_HELPER_CMD"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		return cmd.Run()
	})
	if err != nil {
		fmt.Println("RESULT error", err)
		os.Exit(1)
	}
	fmt.Println("RESULT ok")
}

type replica struct {
	cmd  *exec.Cmd
	out  strings.Builder
	mu   sync.Mutex
	done chan struct{}
	code int
}

func (r *replica) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.Write(p)
}
func (r *replica) output() string { r.mu.Lock(); defer r.mu.Unlock(); return r.out.String() }

func startReplica(t *testing.T, env []string, id string) *replica {
	t.Helper()
	r := &replica{done: make(chan struct{})}
	r.cmd = exec.Command(os.Args[0], "-test.run=^TestOnceHelper$", "-test.v")
	r.cmd.Env = append(append(os.Environ(), env...), "ONCE_HELPER_ID="+id)
	r.cmd.Stdout, r.cmd.Stderr = r, r
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = r.cmd.Wait(); r.code = r.cmd.ProcessState.ExitCode(); close(r.done) }()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.done
		if t.Failed() {
			t.Logf("replica %s:\n%s", id, r.output())
		}
	})
	return r
}

func (r *replica) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-r.done:
		if r.code == 0 && !strings.Contains(r.output(), "RESULT ok") {
			t.Errorf("replica exited 0 without a result:\n%s", r.output())
		}
		return r.code
	case <-time.After(60 * time.Second):
		t.Fatal("replica still running")
		return -1
	}
}

func fileLines(path string) []string {
	b, _ := os.ReadFile(path)
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// The once-key across three replica processes on a real API server: the
// command runs exactly once while the others wait and then skip; a later
// replica skips at once; a holder SIGKILLed mid-run is taken over after
// the lease duration; a failed run is not recorded and another replica
// runs it.
func TestOnceRealAPIServer(t *testing.T) {
	c := kubetest.Start(t)
	token := c.Token("apps", "pysup", "pysup-leases", leaseRule)
	dir := c.ServiceAccountDir("apps", token)
	shared := filepath.Join(t.TempDir(), "runs")
	base := []string{"ONCE_HELPER_SERVER=" + c.URL, "ONCE_HELPER_SA=" + dir}

	t.Run("exactly once", func(t *testing.T) {
		env := append(base, "ONCE_HELPER_KEY=shop-v1", "ONCE_HELPER_CMD=echo $ONCE_HELPER_ID >> "+shared+"; sleep 2")
		var rs []*replica
		for _, id := range []string{"pod-a", "pod-b", "pod-c"} {
			rs = append(rs, startReplica(t, env, id))
		}
		waited := 0
		for _, r := range rs {
			if code := r.wait(t); code != 0 {
				t.Errorf("replica exited %d", code)
			}
			if strings.Contains(r.output(), "WAITING") {
				waited++
			}
		}
		if runs := fileLines(shared); len(runs) != 1 {
			t.Fatalf("runs %q, want exactly one", runs)
		}
		if waited != 2 {
			t.Errorf("%d replicas waited for the holder, want 2", waited)
		}
		start := time.Now()
		late := startReplica(t, env, "pod-d")
		if code := late.wait(t); code != 0 || len(fileLines(shared)) != 1 || strings.Contains(late.output(), "WAITING") {
			t.Errorf("late replica: exit %d, runs %q", code, fileLines(shared))
		}
		t.Logf("late replica skipped in %s", time.Since(start).Round(time.Millisecond))
		_, l, _ := c.Do(c.AdminToken, "GET", "/apis/coordination.k8s.io/v1/namespaces/apps/leases/"+OnceName("shop-v1"), nil)
		for _, want := range []string{`"pysup.io/once-key":"shop-v1"`, `"pysup.io/once-done-by":"` + fileLines(shared)[0] + `"`, `"holderIdentity":""`} {
			if !strings.Contains(string(l), want) {
				t.Errorf("lease lacks %s: %s", want, l)
			}
		}
	})

	t.Run("holder killed", func(t *testing.T) {
		_ = os.Remove(shared)
		env := append(base, "ONCE_HELPER_KEY=shop-v2", "ONCE_HELPER_CMD=echo $ONCE_HELPER_ID >> "+shared+"; sleep 1")
		a := startReplica(t, env, "pod-a")
		deadline := time.Now().Add(20 * time.Second)
		for len(fileLines(shared)) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("pod-a never ran the command")
			}
			time.Sleep(20 * time.Millisecond)
		}
		_ = a.cmd.Process.Signal(syscall.SIGKILL)
		killed := time.Now()
		b, cc := startReplica(t, env, "pod-b"), startReplica(t, env, "pod-c")
		for _, r := range []*replica{b, cc} {
			if code := r.wait(t); code != 0 {
				t.Errorf("replica exited %d", code)
			}
		}
		runs := fileLines(shared)
		if len(runs) != 2 || runs[0] != "pod-a" || runs[1] == "pod-a" {
			t.Fatalf("runs %q: want pod-a's killed run, then exactly one take-over", runs)
		}
		t.Logf("take-over after SIGKILL of the holder: done %s after the kill (lease duration 3s, command 1s)", time.Since(killed).Round(time.Millisecond))
	})

	t.Run("failure retried", func(t *testing.T) {
		_ = os.Remove(shared)
		marker := shared + ".failed-once"
		env := append(base, "ONCE_HELPER_KEY=shop-v3",
			"ONCE_HELPER_CMD=echo $ONCE_HELPER_ID >> "+shared+"; sleep 0.5; if [ ! -e "+marker+" ]; then touch "+marker+"; exit 1; fi")
		var rs []*replica
		for _, id := range []string{"pod-a", "pod-b", "pod-c"} {
			rs = append(rs, startReplica(t, env, id))
		}
		failed := 0
		for _, r := range rs {
			if r.wait(t) != 0 {
				failed++
			}
		}
		runs := fileLines(shared)
		if len(runs) != 2 || runs[0] == runs[1] || failed != 1 {
			t.Fatalf("runs %q, %d replicas failed: want a failed run, then one success by another replica", runs, failed)
		}
	})
}

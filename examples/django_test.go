package examples_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/discovery/kubetest"
	"github.com/pysup/pysup/internal/testenv"
)

// The containers of examples/django that run another command of the web
// image: their args after the image's ENTRYPOINT and the settings they
// change from the image's (web's). TestManifestsAcceptedByAPIServer checks
// that beat.yaml and worker.yaml say the same, so TestDjangoBeat runs what
// the manifests deploy.
var djangoCommands = map[string]struct {
	args []string
	env  map[string]string
}{
	"shop-beat": {
		args: []string{"python3", "-m", "celery", "-A", "shop", "beat", "--loglevel=INFO",
			"-s", "/tmp/celerybeat-schedule", "--pidfile="},
		env: map[string]string{
			"PYSUP_PRESET": "celery", "PYSUP_LEADER_ELECTION": "shop-celery-beat",
			"PYSUP_PRESTART": "", "PYSUP_LIVE_CHECK": "",
			"PYSUP_DRAIN_DELAY": "0s", "PYSUP_STOP_TIMEOUT": "10s",
		},
	},
	"shop-worker": {
		args: []string{"python3", "-m", "celery", "-A", "shop", "--quiet", "worker", "--without-gossip",
			"--without-mingle", "--loglevel=INFO", "--concurrency=2"},
		env: map[string]string{
			"PYSUP_PRESET": "celery", "PYSUP_PRESTART": "", "PYSUP_LIVE_CHECK": "",
			"PYSUP_DRAIN_DELAY": "0s", "PYSUP_STOP_TIMEOUT": "30s",
		},
	},
}

// djangoCommand sets app a as the manifest's Deployment name sets it.
func djangoCommand(t *testing.T, a *app, name string) {
	t.Helper()
	c := djangoCommands[name]
	for k, v := range c.env {
		a.set(k + "=" + v)
	}
	a.setCmd(t, c.args...)
}

// shopIndex is what GET / of the shop answers.
type shopIndex struct {
	Orders int `json:"orders"`
	Latest []struct {
		Item     string `json:"item"`
		Quantity int    `json:"quantity"`
	} `json:"latest"`
}

func getIndex(t *testing.T, base string) shopIndex {
	t.Helper()
	var idx shopIndex
	body := get(t, base+"/")
	if err := json.Unmarshal([]byte(body), &idx); err != nil {
		t.Fatalf("GET /: %v: %q", err, body)
	}
	return idx
}

// messageIndex is the position of the first record whose message contains
// substr, -1 when there is none.
func messageIndex(recs []record, substr string) int {
	for i, r := range recs {
		if strings.Contains(r.str("message"), substr) {
			return i
		}
	}
	return -1
}

// TestDjango runs the web image of examples/django as its Dockerfile says:
// pysup runs the migrations first (records tagged with the phase), then
// gunicorn with WEB_CONCURRENCY workers from the container's limits serves
// the migrated table; SIGTERM drains and stops gracefully. A second start
// on the same database finds nothing to migrate and keeps the data.
func TestDjango(t *testing.T) {
	testenv.RequirePython(t, "django", "gunicorn", "celery", "pythonjsonlogger")
	pd := pod{name: "shop-web-6b7c-pqrst", namespace: "shop", container: "web",
		labels: map[string]string{"app.kubernetes.io/name": "shop", "app.kubernetes.io/component": "web"}}
	a := newApp(t, "django", pd)
	a.set(testDrain)
	p := a.start(t)
	// The migrations are quick here; when a poll catches them, the probes
	// say so.
	sawPrestart := false
	deadline := time.Now().Add(60 * time.Second)
	for status(a.probeURL(t, "/readyz")) != 200 && time.Now().Before(deadline) {
		if b := getBody(a.probeURL(t, "/startupz")); strings.Contains(b, `"phase":"prestart"`) {
			sawPrestart = true
		}
		select {
		case <-p.done:
			t.Fatalf("pysup exited %d before ready", p.code)
		case <-time.After(20 * time.Millisecond):
		}
	}
	p.waitReady(a.probeURL(t, "/readyz"), time.Second)
	t.Logf("/startupz seen in the prestart phase: %v", sawPrestart)

	recs := p.records()
	for _, m := range []string{"Applying orders.0001_initial... OK", "Applying orders.0002_first_order... OK"} {
		i := messageIndex(recs, m)
		if i < 0 {
			t.Fatalf("no record %q", m)
		}
		r := recs[i]
		if r.str("phase") != "prestart" || r.str("prestart_command") == "" {
			t.Errorf("migration record %v: want it tagged phase prestart with its command", r)
		}
		checkPod(t, r, pd)
		if b := messageIndex(recs, "Booting worker"); b >= 0 && b < i {
			t.Errorf("gunicorn booted a worker (record %d) before the migration %q (record %d) ended", b, m, i)
		}
	}
	if got := messageIndex(recs, "Starting gunicorn"); got < messageIndex(recs, "Applying orders.0002_first_order") {
		t.Errorf("gunicorn started before the migrations (records %d)", got)
	}

	// Served from the migrated table: the data migration's row, then ours.
	base := fmt.Sprintf("http://127.0.0.1:%d", a.h.port(t, "8000"))
	if idx := getIndex(t, base); idx.Orders != 1 || len(idx.Latest) != 1 || idx.Latest[0].Item != "welcome" {
		t.Errorf("GET / %+v: want the welcome order of migration 0002", idx)
	}
	resp, err := client.PostForm(base+"/orders", url.Values{"item": {"tea"}, "quantity": {"2"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("POST /orders: %d, want 201", resp.StatusCode)
	}
	if idx := getIndex(t, base); idx.Orders != 2 || idx.Latest[0].Item != "tea" || idx.Latest[0].Quantity != 2 {
		t.Errorf("GET / after POST %+v: want 2 orders, tea first", idx)
	}
	r := p.waitRecord("order created", 5*time.Second)
	if r.str("item") != "tea" || r.str("level") != "info" || r.str("name") != "orders" {
		t.Errorf("app record %v: want level info, logger orders and the item", r)
	}
	checkPod(t, r, pd)

	// No -w: gunicorn runs the WEB_CONCURRENCY workers pysup gave it.
	m := regexp.MustCompile(`(?m)^pysup_web_concurrency (\d+)$`).FindStringSubmatch(get(t, a.probeURL(t, "/metrics")))
	if m == nil {
		t.Fatal("/metrics lacks pysup_web_concurrency")
	}
	want, _ := strconv.Atoi(m[1])
	if want == 0 {
		want = 1 // no CPU quota here: pysup sets none, gunicorn's default is 1
	}
	booted := func() int {
		n := 0
		for _, r := range p.records() {
			if strings.HasPrefix(r.str("message"), "Booting worker with pid") {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(20 * time.Second); booted() < want && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if n := booted(); n != want {
		t.Errorf("gunicorn booted %d workers, pysup_web_concurrency %d", n, want)
	}

	if code := stopWhileServing(t, a, p, "slow request started"); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	p.waitRecord("Handling signal: term", time.Second)
	p.waitRecord("slow request done", time.Second)

	// The next container start on the same database: nothing to migrate,
	// the orders still there.
	p2 := a.start(t)
	p2.waitReady(a.probeURL(t, "/readyz"), 60*time.Second)
	if r := p2.waitRecord("No migrations to apply.", time.Second); r.str("phase") != "prestart" {
		t.Errorf("record %v: want phase prestart", r)
	}
	if idx := getIndex(t, base); idx.Orders != 2 {
		t.Errorf("GET / after a restart: %+v, want the 2 orders", idx)
	}
	p2.signal(syscall.SIGTERM)
	if code := p2.wait(30 * time.Second); code != 0 {
		t.Errorf("second run: exit status %d, want 0", code)
	}
}

// getBody is the body of GET url, "" when it cannot be fetched.
func getBody(url string) string {
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return string(b)
}

// leaseAccount applies examples/django/rbac.yaml in namespace ns of a real
// API server and returns the environment of a pod running as its
// ServiceAccount: the API server's address and the token's directory.
func leaseAccount(t *testing.T, ns string) []string {
	t.Helper()
	kubectl := kubetest.Kubectl(t)
	c := kubetest.Start(t)
	c.Namespace(ns)
	out, err := exec.Command(kubectl, "--kubeconfig", c.Kubeconfig(), "-n", ns, "apply",
		"-f", filepath.Join(exampleDir("django"), "rbac.yaml")).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl apply rbac.yaml: %v\n%s", err, out)
	}
	tr := map[string]any{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": map[string]any{"expirationSeconds": 3600}}
	var tok struct{ Status struct{ Token string } }
	if err := json.Unmarshal(c.Must("POST", "/api/v1/namespaces/"+ns+"/serviceaccounts/pysup-leases/token", tr), &tok); err != nil {
		t.Fatal(err)
	}
	return c.InClusterEnv(c.ServiceAccountDir(ns, tok.Status.Token))
}

// TestDjangoBeat runs the beat container of examples/django/beat.yaml in
// two pods against a real kube-apiserver with the example's RBAC: exactly
// one celery beat runs and sends the schedule, the other pod is a healthy
// standby; when the leader's pod is stopped (a rolling update), the standby
// takes over and the schedule goes on. Then the worker of worker.yaml runs
// the tasks sent.
func TestDjangoBeat(t *testing.T) {
	testenv.RequirePython(t, "django", "celery", "kombu.transport.filesystem", "pythonjsonlogger")
	kenv := leaseAccount(t, "shop")
	broker := filepath.Join(t.TempDir(), "broker") // the Redis both pods send to
	var pods []*proc
	var apps []*app
	for i := range 2 {
		pd := pod{name: fmt.Sprintf("shop-beat-5d4f-%d", i), namespace: "shop", container: "beat",
			labels: map[string]string{"app.kubernetes.io/name": "shop", "app.kubernetes.io/component": "beat"}}
		a := newApp(t, "django", pd)
		djangoCommand(t, a, "shop-beat")
		a.set("REPORT_INTERVAL=1")
		// Not translated: these paths are this machine's already.
		a.env = append(a.env, "CELERY_BROKER_DIR="+broker)
		a.env = append(a.env, kenv...)
		p := a.start(t)
		// Leader or standby, a pod passes its probes.
		p.waitReady(a.probeURL(t, "/readyz"), 30*time.Second)
		if i == 0 {
			p.waitRecord("beat: Starting...", 30*time.Second)
		}
		pods, apps = append(pods, p), append(apps, a)
	}
	sent := func(p *proc) int {
		n := 0
		for _, r := range p.records() {
			if strings.HasPrefix(r.str("message"), "Scheduler: Sending due task report-orders") {
				n++
			}
		}
		return n
	}
	leader, standby := pods[0], pods[1]
	for deadline := time.Now().Add(30 * time.Second); sent(leader) < 3 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	if n := sent(leader); n < 3 {
		t.Fatalf("the leader's beat sent %d tasks in 30s, want 3", n)
	}
	if body := get(t, apps[0].probeURL(t, "/readyz")); !strings.Contains(body, `"role":"leader"`) {
		t.Errorf("leader /readyz %s: want role leader", body)
	}
	for _, path := range []string{"/livez", "/readyz", "/startupz"} {
		if body := get(t, apps[1].probeURL(t, path)); !strings.Contains(body, `"status":"standby"`) || !strings.Contains(body, `"leader":"shop-beat-5d4f-0"`) {
			t.Errorf("standby %s %s: want status standby, leader shop-beat-5d4f-0", path, body)
		}
	}
	if messageIndex(standby.records(), "beat: Starting") >= 0 || sent(standby) != 0 {
		t.Fatal("a second beat runs on the standby")
	}
	if msgs, _ := filepath.Glob(filepath.Join(broker, "*.msg")); len(msgs) < 3 {
		t.Errorf("%d task messages in the broker, want at least 3", len(msgs))
	}

	// A rolling update stops the leader: beat stops, pysup releases the
	// Lease and exits 0; the standby's beat takes over.
	leader.signal(syscall.SIGTERM)
	stopped := time.Now()
	if code := leader.wait(20 * time.Second); code != 0 {
		t.Errorf("leader exit status %d, want 0", code)
	}
	if !strings.Contains(leader.stderr.String(), "lease released") {
		t.Error("the leader's pysup did not release the Lease")
	}
	standby.waitRecord("beat: Starting...", 20*time.Second)
	t.Logf("beat handed over %s after SIGTERM to the leader", time.Since(stopped).Round(time.Millisecond))
	for deadline := time.Now().Add(20 * time.Second); sent(standby) < 2 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	if n := sent(standby); n < 2 {
		t.Errorf("the new leader's beat sent %d tasks, want 2", n)
	}
	standby.signal(syscall.SIGTERM)
	if code := standby.wait(20 * time.Second); code != 0 {
		t.Errorf("new leader exit status %d, want 0", code)
	}

	// The worker of worker.yaml runs the tasks the beats sent, on the
	// migrated database.
	wpd := pod{name: "shop-worker-7a8b-0", namespace: "shop", container: "worker",
		labels: map[string]string{"app.kubernetes.io/name": "shop", "app.kubernetes.io/component": "worker"}}
	w := newApp(t, "django", wpd)
	djangoCommand(t, w, "shop-worker")
	w.env = append(w.env, "CELERY_BROKER_DIR="+broker)
	migrate := exec.Command(testenv.Python, "manage.py", "migrate", "--noinput")
	migrate.Dir, migrate.Env = exampleDir("django"), w.env
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("manage.py migrate: %v\n%s", err, out)
	}
	wp := w.start(t)
	r := wp.waitRecord("orders report", 30*time.Second)
	if r["orders"] != 1.0 || r.str("name") != "orders.tasks" {
		t.Errorf("task record %v: want logger orders.tasks and the one order of migration 0002", r)
	}
	checkPod(t, r, wpd)
	wp.waitRecord("Task orders.tasks.report[", 10*time.Second)
	wp.signal(syscall.SIGTERM)
	if code := wp.wait(40 * time.Second); code != 0 {
		t.Errorf("worker exit status %d, want 0", code)
	}
	wp.waitRecord("Warm shutdown", time.Second)
}

// TestDjangoMigrateOnce starts three web replicas of examples/django at
// once, as web.yaml sets them (PYSUP_PRESTART_ONCE_KEY, the ServiceAccount
// of rbac.yaml on a real kube-apiserver), on one database (a shared SQLite
// file standing in for Postgres): one replica migrates, the others wait or
// skip, and all three serve the migrated table.
func TestDjangoMigrateOnce(t *testing.T) {
	testenv.RequirePython(t, "django", "gunicorn", "celery", "pythonjsonlogger")
	kenv := leaseAccount(t, "shop")
	db := filepath.Join(t.TempDir(), "shop.sqlite3")
	var apps []*app
	var pods []*proc
	for i := range 3 {
		pd := pod{name: fmt.Sprintf("shop-web-6b7c-%d", i), namespace: "shop", container: "web",
			labels: map[string]string{"app.kubernetes.io/name": "shop", "app.kubernetes.io/component": "web"}}
		a := newApp(t, "django", pd)
		// One worker each: three replicas share two cores here; TestDjango
		// checks the sizing.
		a.set(testDrain, "PYSUP_PRESTART_ONCE_KEY=shop-web-1.0.0", "PYSUP_WEB_CONCURRENCY=1")
		a.env = append(a.env, "DJANGO_SQLITE_PATH="+db)
		a.env = append(a.env, kenv...)
		apps = append(apps, a)
	}
	for _, a := range apps {
		pods = append(pods, a.start(t))
	}
	migrated := 0
	for i, p := range pods {
		p.waitReady(apps[i].probeURL(t, "/readyz"), 90*time.Second)
		diag := p.stderr.String()
		t.Logf("replica %d: acquired %v, waited %v, skipped %v", i, strings.Contains(diag, "once-key lease acquired"),
			strings.Contains(diag, "running on another replica: waiting"), strings.Contains(diag, "pre-start commands skipped"))
		switch applied := messageIndex(p.records(), "Applying orders.0001_initial") >= 0; {
		case applied && strings.Contains(diag, "once-key lease acquired"):
			migrated++
		case !applied && strings.Contains(diag, "pre-start commands skipped: once-key already done"):
		default:
			t.Errorf("replica %d: migrated %v; want the migrations run under the once-key Lease or skipped", i, applied)
		}
		base := fmt.Sprintf("http://127.0.0.1:%d", apps[i].h.port(t, "8000"))
		if idx := getIndex(t, base); idx.Orders != 1 {
			t.Errorf("replica %d: GET / %+v, want the one order of migration 0002", i, idx)
		}
	}
	if migrated != 1 {
		t.Errorf("%d replicas ran the migrations, want 1", migrated)
	}
	for _, p := range pods {
		p.signal(syscall.SIGTERM)
	}
	for i, p := range pods {
		if code := p.wait(30 * time.Second); code != 0 {
			t.Errorf("replica %d: exit status %d, want 0", i, code)
		}
	}
}

// checkDjango checks what examples/django's settings rely on: the web
// tier migrates once per image tag, sizes its workers from its limits and
// has its startup budget cover the migrations; beat runs on one of two
// replicas as TestDjangoBeat runs it; both may use Leases, and no more
// (the Role's rules; TestManifestsAcceptedByAPIServer asks the API server
// too).
func checkDjango(t *testing.T, objs []object) {
	type workload struct {
		replicas int
		pt       *podTemplate
		c        container
	}
	ws := map[string]workload{}
	for _, o := range objs {
		if pt := template(t, o); pt != nil && len(pt.Spec.Containers) == 1 {
			var spec struct{ Replicas int }
			_ = json.Unmarshal(o.Spec, &spec)
			ws[o.Metadata.Name] = workload{spec.Replicas, pt, pt.Spec.Containers[0]}
		}
	}
	web, ok := ws["shop-web"]
	if !ok {
		t.Fatal("no shop-web Deployment in examples/django")
	}
	beat, ok := ws["shop-beat"]
	if !ok {
		t.Fatal("no shop-beat Deployment in examples/django")
	}

	// Web: 3 replicas, the once-key from the app's name and the image tag.
	if web.replicas != 3 {
		t.Errorf("shop-web: %d replicas, want 3", web.replicas)
	}
	key, _ := web.c.env("PYSUP_PRESTART_ONCE_KEY")
	tag, _ := web.c.env("IMAGE_TAG")
	if !strings.HasPrefix(key, "shop-") || !strings.Contains(key, "$(IMAGE_TAG)") {
		t.Errorf("shop-web: PYSUP_PRESTART_ONCE_KEY %q, want the app's name and $(IMAGE_TAG)", key)
	}
	if _, imageTag, _ := strings.Cut(web.c.Image, ":"); tag == "" || tag != imageTag {
		t.Errorf("shop-web: IMAGE_TAG %q, but the image is %s", tag, web.c.Image)
	}
	for _, e := range web.c.Env {
		if e.Name == "PYSUP_PRESTART_ONCE_KEY" {
			t.Error("shop-web: IMAGE_TAG must come before PYSUP_PRESTART_ONCE_KEY, which refers to it")
			break
		}
		if e.Name == "IMAGE_TAG" {
			break
		}
	}
	if p, _ := web.c.env("PYSUP_PRESTART"); !strings.Contains(p, "manage.py migrate --noinput") {
		t.Errorf("shop-web: PYSUP_PRESTART %q, want the migrations", p)
	}
	// The startup probe waits out the migrations (and a replica waiting
	// for the one running them).
	timeout, err := time.ParseDuration(func() string { v, _ := web.c.env("PYSUP_PRESTART_TIMEOUT"); return v }())
	if err != nil || timeout <= 0 {
		t.Errorf("shop-web: PYSUP_PRESTART_TIMEOUT must be a positive duration: %v", err)
	}
	if sp := web.c.StartupProbe; sp == nil || sp.HTTPGet == nil ||
		time.Duration(sp.PeriodSeconds*sp.FailureThreshold)*time.Second <= timeout {
		t.Errorf("shop-web: the startupProbe on /startupz must allow more than PYSUP_PRESTART_TIMEOUT (%s)", timeout)
	}
	// Workers from the limits: no WEB_CONCURRENCY, no -w, and a
	// PYSUP_WORKER_MEMORY that lets several workers fit in the limit.
	if _, set := web.c.env("WEB_CONCURRENCY"); set || len(web.c.Args) > 0 {
		t.Error("shop-web: WEB_CONCURRENCY or args set: worker sizing is pysup's")
	}
	wm, _ := web.c.env("PYSUP_WORKER_MEMORY")
	perWorker, limit := mebibytes(strings.TrimSuffix(wm, "B")), mebibytes(web.c.Resources.Limits["memory"])
	if perWorker <= 0 || limit/perWorker < 2 || limit/perWorker > 8 {
		t.Errorf("shop-web: PYSUP_WORKER_MEMORY %q for a memory limit of %s: want 2 to 8 workers", wm, web.c.Resources.Limits["memory"])
	}

	// Beat: two replicas, one leading, run as TestDjangoBeat runs it.
	if beat.replicas != 2 {
		t.Errorf("shop-beat: %d replicas, want 2 (a leader and a standby)", beat.replicas)
	}
	for name, cmd := range djangoCommands {
		w, ok := ws[name]
		if !ok {
			t.Errorf("no %s Deployment in examples/django", name)
			continue
		}
		if !slices.Equal(w.c.Args, cmd.args) {
			t.Errorf("%s: args %q, want %q (TestDjangoBeat's)", name, w.c.Args, cmd.args)
		}
		for k, want := range cmd.env {
			if got, set := w.c.env(k); !set || got != want {
				t.Errorf("%s: %s=%q (set: %v), want %q (TestDjangoBeat's)", name, k, got, set, want)
			}
		}
	}

	// Both on the ServiceAccount of rbac.yaml, whose Role allows Leases only.
	for name, w := range map[string]workload{"shop-web": web, "shop-beat": beat} {
		if w.pt.Spec.ServiceAccountName != "pysup-leases" {
			t.Errorf("%s: serviceAccountName %q, want pysup-leases (rbac.yaml)", name, w.pt.Spec.ServiceAccountName)
		}
	}
	if find(objs, "ServiceAccount", "pysup-leases") == nil {
		t.Error("no ServiceAccount pysup-leases in examples/django")
	}
	rb := find(objs, "RoleBinding", "pysup-leases")
	if rb == nil || rb.RoleRef.Kind != "Role" || !slices.ContainsFunc(rb.Subjects, func(s struct{ Kind, Name string }) bool {
		return s.Kind == "ServiceAccount" && s.Name == "pysup-leases"
	}) {
		t.Fatal("no RoleBinding of a Role to ServiceAccount pysup-leases")
	}
	role := find(objs, "Role", rb.RoleRef.Name)
	if role == nil || len(role.Rules) != 1 {
		t.Fatalf("Role %s: want exactly one rule", rb.RoleRef.Name)
	}
	r := role.Rules[0]
	if !slices.Equal(r.APIGroups, []string{"coordination.k8s.io"}) || !slices.Equal(r.Resources, []string{"leases"}) ||
		!slices.Equal(r.Verbs, []string{"get", "create", "update"}) {
		t.Errorf("Role %s rule %+v: want get, create and update on coordination.k8s.io leases only", rb.RoleRef.Name, r)
	}
}

// mebibytes reads a Kubernetes quantity in Mi or Gi (256Mi, 1Gi); 0 for
// any other form.
func mebibytes(q string) int {
	for suffix, mult := range map[string]int{"Mi": 1, "Gi": 1024} {
		if n, err := strconv.Atoi(strings.TrimSuffix(q, suffix)); err == nil && strings.HasSuffix(q, suffix) {
			return n * mult
		}
	}
	return 0
}

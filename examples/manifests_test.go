package examples_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/discovery/kubetest"
	"github.com/pysup/pysup/internal/testenv"
)

// The objects kubectl prints, reduced to what the checks read.
type object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec  json.RawMessage   `json:"spec"`
	Data  map[string]string `json:"data"`
	Rules []struct {
		APIGroups []string `json:"apiGroups"`
		Resources []string `json:"resources"`
		Verbs     []string `json:"verbs"`
	} `json:"rules"`
	RoleRef  struct{ Kind, Name string }   `json:"roleRef"`
	Subjects []struct{ Kind, Name string } `json:"subjects"`
	Items    []object                      `json:"items"`
}

type podTemplate struct {
	Metadata struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		TerminationGracePeriodSeconds *int64           `json:"terminationGracePeriodSeconds"`
		ServiceAccountName            string           `json:"serviceAccountName"`
		SecurityContext               *securityContext `json:"securityContext"`
		Containers                    []container      `json:"containers"`
		Volumes                       []struct {
			Name        string    `json:"name"`
			EmptyDir    *struct{} `json:"emptyDir"`
			DownwardAPI *struct {
				Items []struct {
					Path     string    `json:"path"`
					FieldRef *fieldRef `json:"fieldRef"`
				} `json:"items"`
			} `json:"downwardAPI"`
		} `json:"volumes"`
	} `json:"spec"`
}

type fieldRef struct {
	FieldPath string `json:"fieldPath"`
}

type securityContext struct {
	RunAsNonRoot             *bool  `json:"runAsNonRoot"`
	RunAsUser                *int64 `json:"runAsUser"`
	ReadOnlyRootFilesystem   *bool  `json:"readOnlyRootFilesystem"`
	AllowPrivilegeEscalation *bool  `json:"allowPrivilegeEscalation"`
	Capabilities             *struct {
		Drop []string `json:"drop"`
	} `json:"capabilities"`
}

type probeSpec struct {
	HTTPGet *struct {
		Path string `json:"path"`
		Port any    `json:"port"`
	} `json:"httpGet"`
	Exec *struct {
		Command []string `json:"command"`
	} `json:"exec"`
	PeriodSeconds    int `json:"periodSeconds"`
	FailureThreshold int `json:"failureThreshold"`
}

type container struct {
	Name    string   `json:"name"`
	Image   string   `json:"image"`
	Command []string `json:"command"`
	Args    []string `json:"args"`
	Env     []struct {
		Name      string `json:"name"`
		Value     string `json:"value"`
		ValueFrom *struct {
			FieldRef *fieldRef `json:"fieldRef"`
		} `json:"valueFrom"`
	} `json:"env"`
	Ports []struct {
		Name          string `json:"name"`
		ContainerPort int    `json:"containerPort"`
	} `json:"ports"`
	StartupProbe   *probeSpec `json:"startupProbe"`
	ReadinessProbe *probeSpec `json:"readinessProbe"`
	LivenessProbe  *probeSpec `json:"livenessProbe"`
	Resources      struct {
		Requests map[string]string `json:"requests"`
		Limits   map[string]string `json:"limits"`
	} `json:"resources"`
	SecurityContext *securityContext `json:"securityContext"`
	VolumeMounts    []struct {
		Name      string `json:"name"`
		MountPath string `json:"mountPath"`
	} `json:"volumeMounts"`
}

func (c container) env(name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// runsPysup tells the containers whose image runs pysup: they set PYSUP_*.
func (c container) runsPysup() bool {
	for _, e := range c.Env {
		if strings.HasPrefix(e.Name, "PYSUP_") {
			return true
		}
	}
	return false
}

// manifests lists examples/**/*.yaml.
func manifests(t *testing.T) []string {
	t.Helper()
	var files []string
	root := filepath.Join(testenv.RepoRoot(), "examples")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests under %s: %v", root, err)
	}
	return files
}

var topKind = regexp.MustCompile(`(?m)^kind:`)

// documents counts the YAML documents of a file that hold an object.
func documents(yaml string) int {
	n := 0
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(yaml, -1) {
		if topKind.MatchString(doc) {
			n++
		}
	}
	return n
}

// TestManifestsAcceptedByAPIServer sends every manifest under examples/ to
// a real kube-apiserver with a server-side dry run (defaulting, validation
// with unknown fields refused, admission), then checks in what the server
// returned that each pysup container is set as pysup needs.
func TestManifestsAcceptedByAPIServer(t *testing.T) {
	kubectl := kubetest.Kubectl(t)
	c := kubetest.Start(t)
	kubeconfig := c.Kubeconfig()
	const ns = "pysup-examples"
	c.Namespace(ns)

	byDir := map[string][]object{}
	for _, f := range manifests(t) {
		rel, _ := filepath.Rel(filepath.Join(testenv.RepoRoot(), "examples"), f)
		t.Run(rel, func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(kubectl, "--kubeconfig", kubeconfig, "--request-timeout=30s",
				"apply", "--dry-run=server", "--validate=strict", "-n", ns, "-f", f, "-o", "json")
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			if err := cmd.Run(); err != nil {
				t.Fatalf("kubectl apply --dry-run=server -f %s: %v\n%s", rel, err, stderr.String())
			}
			t.Logf("accepted in %s", time.Since(start).Round(time.Millisecond))
			var out object
			if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
				t.Fatalf("kubectl output: %v\n%s", err, stdout.String())
			}
			objs := []object{out}
			if out.Kind == "List" {
				objs = out.Items
			}
			if want := documents(string(src)); len(objs) != want {
				t.Errorf("the server returned %d objects for %d documents", len(objs), want)
			}
			dir := filepath.Dir(rel)
			for _, o := range objs {
				checkObject(t, dir, o)
			}
			byDir[dir] = append(byDir[dir], objs...)
		})
	}
	t.Run("zmq-echo", func(t *testing.T) { checkZmqEcho(t, byDir["zmq-echo"]) })
	t.Run("zmq-echo/rbac.yaml/least-privilege", func(t *testing.T) {
		checkRBAC(t, c, kubectl, kubeconfig, "zmq-echo", "pysup-zmq-client", []canI{
			{"list", "endpointslices.discovery.k8s.io", "", "yes"},
			{"watch", "endpointslices.discovery.k8s.io", "", "yes"},
			{"get", "endpointslices.discovery.k8s.io", "", "yes"},
			{"update", "endpointslices.discovery.k8s.io", "", "no"},
			{"list", "endpointslices.discovery.k8s.io", "default", "no"},
			{"get", "secrets", "", "no"},
			{"list", "pods", "", "no"},
			{"list", "endpoints", "", "no"},
		})
	})
	t.Run("django", func(t *testing.T) { checkDjango(t, byDir["django"]) })
	t.Run("django/rbac.yaml/least-privilege", func(t *testing.T) {
		checkRBAC(t, c, kubectl, kubeconfig, "django", "pysup-leases", []canI{
			{"get", "leases.coordination.k8s.io", "", "yes"},
			{"create", "leases.coordination.k8s.io", "", "yes"},
			{"update", "leases.coordination.k8s.io", "", "yes"},
			{"list", "leases.coordination.k8s.io", "", "no"},
			{"watch", "leases.coordination.k8s.io", "", "no"},
			{"patch", "leases.coordination.k8s.io", "", "no"},
			{"delete", "leases.coordination.k8s.io", "", "no"},
			{"get", "leases.coordination.k8s.io", "default", "no"},
			{"get", "secrets", "", "no"},
			{"list", "pods", "", "no"},
		})
	})
	t.Run("fluent-bit", func(t *testing.T) { checkFluentBit(t, byDir["fluent-bit"]) })
}

// template returns the pod template of a workload, nil for other kinds.
func template(t *testing.T, o object) *podTemplate {
	t.Helper()
	var spec struct {
		Template    *podTemplate `json:"template"`
		JobTemplate *struct {
			Spec struct {
				Template *podTemplate `json:"template"`
			} `json:"spec"`
		} `json:"jobTemplate"`
	}
	switch o.Kind {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob":
	default:
		return nil
	}
	if err := json.Unmarshal(o.Spec, &spec); err != nil {
		t.Fatalf("%s %s: %v", o.Kind, o.Metadata.Name, err)
	}
	if spec.JobTemplate != nil {
		return spec.JobTemplate.Spec.Template
	}
	return spec.Template
}

func checkObject(t *testing.T, dir string, o object) {
	t.Helper()
	pt := template(t, o)
	if pt == nil {
		return
	}
	where := o.Kind + " " + o.Metadata.Name
	for _, c := range pt.Spec.Containers {
		if c.runsPysup() {
			checkPysupContainer(t, where+" container "+c.Name, pt, c)
			checkImageAgrees(t, where+" container "+c.Name, dir, c)
		}
	}
}

// checkImageAgrees checks that a container running its image's CMD states
// pysup's settings as the image's Dockerfile does, so the tests that run
// the Dockerfile's settings test what the manifest deploys.
func checkImageAgrees(t *testing.T, where, dir string, c container) {
	t.Helper()
	if len(c.Command) > 0 {
		t.Errorf("%s: command %q replaces the image's ENTRYPOINT [pysup --]; set args instead", where, c.Command)
	}
	if _, err := os.Stat(filepath.Join(exampleDir(dir), "Dockerfile")); err != nil || len(c.Args) > 0 {
		return // no image here, or another command with settings of its own
	}
	for _, kv := range readDockerfile(t, dir).env {
		if !strings.HasPrefix(kv[0], "PYSUP_") && kv[0] != "PROMETHEUS_MULTIPROC_DIR" {
			continue
		}
		if v, ok := c.env(kv[0]); ok && v != kv[1] {
			t.Errorf("%s: %s=%q, but the image's Dockerfile says %q", where, kv[0], v, kv[1])
		}
	}
}

// checkPysupContainer checks the conventions of the examples: the stop
// budget, probes at pysup's endpoints, the Downward API, resources, a
// locked-down security context and the scrape annotations.
func checkPysupContainer(t *testing.T, where string, pt *podTemplate, c container) {
	t.Helper()
	// Stop budget: both stated, and the grace period longer than both.
	var budget time.Duration
	for _, name := range []string{"PYSUP_DRAIN_DELAY", "PYSUP_STOP_TIMEOUT"} {
		v, ok := c.env(name)
		d, err := time.ParseDuration(v)
		if !ok || err != nil {
			t.Errorf("%s: %s must be set explicitly to a duration (have %q)", where, name, v)
		}
		budget += d
	}
	if g := pt.Spec.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= budget {
		t.Errorf("%s: terminationGracePeriodSeconds %v must exceed PYSUP_DRAIN_DELAY + PYSUP_STOP_TIMEOUT = %s", where, deref(g), budget)
	}

	// Probes at pysup's endpoints, each the matching one.
	if c.LivenessProbe == nil {
		t.Errorf("%s: no livenessProbe", where)
	}
	for kind, p := range map[string]*probeSpec{"startup": c.StartupProbe, "ready": c.ReadinessProbe, "live": c.LivenessProbe} {
		if p == nil {
			continue
		}
		switch {
		case p.HTTPGet != nil:
			if p.HTTPGet.Path != "/"+kind+"z" || portNumber(c, p.HTTPGet.Port) != 9180 {
				t.Errorf("%s: %s probe GET %s on port %v, want /%sz on pysup's port 9180", where, kind, p.HTTPGet.Path, p.HTTPGet.Port, kind)
			}
		case p.Exec != nil:
			if !slices.Equal(p.Exec.Command, []string{"pysup", "probe", kind}) {
				t.Errorf("%s: %s exec probe %q, want [pysup probe %s]", where, kind, p.Exec.Command, kind)
			}
		default:
			t.Errorf("%s: %s probe is neither pysup's HTTP endpoint nor `pysup probe`", where, kind)
		}
	}

	// Downward API: the env pysup reads and the podinfo volume.
	for name, path := range map[string]string{"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace",
		"POD_UID": "metadata.uid", "POD_IP": "status.podIP", "NODE_NAME": "spec.nodeName"} {
		found := false
		for _, e := range c.Env {
			if e.Name == name && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == path {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no env %s from fieldRef %s", where, name, path)
		}
	}
	if v, _ := c.env("CONTAINER_NAME"); v != c.Name {
		t.Errorf("%s: CONTAINER_NAME %q, want the container's name", where, v)
	}
	mounts := map[string]string{} // path -> volume
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	podinfo := false
	for _, v := range pt.Spec.Volumes {
		if v.Name != mounts["/etc/podinfo"] || v.DownwardAPI == nil {
			continue
		}
		got := map[string]string{}
		for _, it := range v.DownwardAPI.Items {
			if it.FieldRef != nil {
				got[it.Path] = it.FieldRef.FieldPath
			}
		}
		podinfo = got["labels"] == "metadata.labels" && got["annotations"] == "metadata.annotations"
	}
	if !podinfo {
		t.Errorf("%s: no downwardAPI volume with labels and annotations at /etc/podinfo", where)
	}

	// Resources.
	for _, r := range []string{"cpu", "memory"} {
		if c.Resources.Requests[r] == "" || c.Resources.Limits[r] == "" {
			t.Errorf("%s: resources must request and limit %s", where, r)
		}
	}

	// Security context: the container's, falling back to the pod's for the
	// fields a pod may set.
	sc := c.SecurityContext
	if sc == nil {
		sc = &securityContext{}
	}
	pod := pt.Spec.SecurityContext
	if pod == nil {
		pod = &securityContext{}
	}
	if !isTrue(sc.RunAsNonRoot) && !isTrue(pod.RunAsNonRoot) {
		t.Errorf("%s: runAsNonRoot is not true", where)
	}
	if uid := firstSet(sc.RunAsUser, pod.RunAsUser); uid == nil || *uid == 0 {
		t.Errorf("%s: runAsUser must be a numeric non-root uid", where)
	}
	if !isTrue(sc.ReadOnlyRootFilesystem) {
		t.Errorf("%s: readOnlyRootFilesystem is not true", where)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: allowPrivilegeEscalation is not false", where)
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("%s: capabilities do not drop ALL", where)
	}
	// With a read-only root, the directories pysup and the app write to
	// must be emptyDirs: /tmp (pysup's notify socket) and the multiprocess
	// directory.
	emptyDirs := map[string]bool{}
	for _, v := range pt.Spec.Volumes {
		if v.EmptyDir != nil {
			emptyDirs[v.Name] = true
		}
	}
	writable := []string{"/tmp"}
	if d, ok := c.env("PROMETHEUS_MULTIPROC_DIR"); ok {
		writable = append(writable, d)
	}
	for _, dir := range writable {
		ok := false
		for path, vol := range mounts {
			if (dir == path || strings.HasPrefix(dir, path+"/")) && emptyDirs[vol] {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s: %s is not on an emptyDir under a read-only root filesystem", where, dir)
		}
	}

	// Prometheus scrape annotations on the pod, at pysup's /metrics.
	want := map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9180", "prometheus.io/path": "/metrics"}
	for k, v := range want {
		if got := pt.Metadata.Annotations[k]; got != v {
			t.Errorf("%s: pod annotation %s = %q, want %q", where, k, got, v)
		}
	}
	if !containerPort(c, 9180) {
		t.Errorf("%s: pysup's port 9180 is not among the container's ports", where)
	}
}

func deref(p *int64) any {
	if p == nil {
		return "unset"
	}
	return *p
}

func isTrue(b *bool) bool { return b != nil && *b }

func firstSet(a, b *int64) *int64 {
	if a != nil {
		return a
	}
	return b
}

// portNumber resolves a probe's port, a number or a container port's name.
func portNumber(c container, port any) int {
	switch p := port.(type) {
	case float64:
		return int(p)
	case string:
		for _, cp := range c.Ports {
			if cp.Name == p {
				return cp.ContainerPort
			}
		}
	}
	return 0
}

func containerPort(c container, n int) bool {
	for _, p := range c.Ports {
		if p.ContainerPort == n {
			return true
		}
	}
	return false
}

func find(objs []object, kind, name string) *object {
	for i := range objs {
		if objs[i].Kind == kind && objs[i].Metadata.Name == name {
			return &objs[i]
		}
	}
	return nil
}

// checkZmqEcho checks that the client's pysup can follow the server's
// endpoints: its k8s:// backends name a Service and port of server.yaml,
// and its ServiceAccount may list and watch EndpointSlices (rbac.yaml).
func checkZmqEcho(t *testing.T, objs []object) {
	var client *container
	var sa string
	for _, o := range objs {
		if pt := template(t, o); pt != nil && o.Metadata.Name == "zmq-echo-client" {
			client, sa = &pt.Spec.Containers[0], pt.Spec.ServiceAccountName
		}
	}
	if client == nil {
		t.Fatal("no zmq-echo-client Deployment")
	}
	if !slices.Equal(client.Args, []string{"python3", "client.py"}) {
		t.Errorf("client args %q, want [python3 client.py] after pysup --", client.Args)
	}
	backends, _ := client.env("PYSUP_ZMQ_BACKENDS")
	m := regexp.MustCompile(`^k8s://\$\(POD_NAMESPACE\)/([a-z0-9-]+):([a-z0-9-]+)$`).FindStringSubmatch(backends)
	if m == nil {
		t.Fatalf("client PYSUP_ZMQ_BACKENDS %q, want k8s://$(POD_NAMESPACE)/SERVICE:PORT", backends)
	}
	svc := find(objs, "Service", m[1])
	if svc == nil {
		t.Fatalf("PYSUP_ZMQ_BACKENDS names Service %s, which is not in examples/zmq-echo", m[1])
	}
	var spec struct {
		Ports []struct{ Name string } `json:"ports"`
	}
	_ = json.Unmarshal(svc.Spec, &spec)
	if !slices.ContainsFunc(spec.Ports, func(p struct{ Name string }) bool { return p.Name == m[2] }) {
		t.Errorf("Service %s has no port named %s", m[1], m[2])
	}
	if find(objs, "ServiceAccount", sa) == nil {
		t.Fatalf("client serviceAccountName %q is not in examples/zmq-echo", sa)
	}
	granted := false
	for _, rb := range objs {
		if rb.Kind != "RoleBinding" || !slices.ContainsFunc(rb.Subjects, func(s struct{ Kind, Name string }) bool { return s.Kind == "ServiceAccount" && s.Name == sa }) {
			continue
		}
		if role := find(objs, rb.RoleRef.Kind, rb.RoleRef.Name); role != nil {
			for _, r := range role.Rules {
				if slices.Contains(r.APIGroups, "discovery.k8s.io") && slices.Contains(r.Resources, "endpointslices") &&
					slices.Contains(r.Verbs, "list") && slices.Contains(r.Verbs, "watch") {
					granted = true
				}
			}
		}
	}
	if !granted {
		t.Errorf("ServiceAccount %s may not list and watch endpointslices", sa)
	}
}

// checkFluentBit checks that the ConfigMap holds fluent-bit.conf as it is
// beside it, and that its forward input is the port the Service exposes
// and PYSUP_FLUENT_ADDR points at.
func checkFluentBit(t *testing.T, objs []object) {
	cm := find(objs, "ConfigMap", "fluent-bit")
	if cm == nil {
		t.Fatal("no fluent-bit ConfigMap")
	}
	want, err := os.ReadFile(filepath.Join(exampleDir("fluent-bit"), "fluent-bit.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["fluent-bit.conf"] != string(want) {
		t.Error("the ConfigMap's fluent-bit.conf differs from examples/fluent-bit/fluent-bit.conf")
	}
	if !regexp.MustCompile(`(?m)^\s+Name\s+forward\n(?:\s+.*\n)*?\s+Port\s+24224$`).MatchString(string(want)) {
		t.Error("fluent-bit.conf has no forward input on port 24224")
	}
	var spec struct {
		Ports []struct{ Port int } `json:"ports"`
	}
	if svc := find(objs, "Service", "fluent-bit"); svc != nil {
		_ = json.Unmarshal(svc.Spec, &spec)
	}
	if !slices.ContainsFunc(spec.Ports, func(p struct{ Port int }) bool { return p.Port == 24224 }) {
		t.Error("no fluent-bit Service on port 24224 (PYSUP_FLUENT_ADDR=tcp://fluent-bit:24224)")
	}
	readme, _ := os.ReadFile(filepath.Join(exampleDir(""), "README.md"))
	if !strings.Contains(string(readme), "PYSUP_FLUENT_ADDR=tcp://fluent-bit:24224") {
		t.Error("examples/README.md does not show PYSUP_FLUENT_ADDR=tcp://fluent-bit:24224")
	}
}

// canI is one question to `kubectl auth can-i` and the answer wanted; an
// empty namespace is the one the RBAC was applied in.
type canI struct {
	verb, resource, namespace string
	want                      string
}

// checkRBAC applies examples/DIR/rbac.yaml for real, in a namespace of its
// own, and asks the API server what ServiceAccount sa may do: what pysup
// needs, and nothing else.
func checkRBAC(t *testing.T, c *kubetest.Cluster, kubectl, kubeconfig, dir, sa string, qs []canI) {
	ns := "pysup-examples-rbac-" + dir
	c.Namespace(ns)
	kube := func(args ...string) (string, error) {
		out, err := exec.Command(kubectl, append([]string{"--kubeconfig", kubeconfig, "-n", ns}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := kube("apply", "-f", filepath.Join(exampleDir(dir), "rbac.yaml")); err != nil {
		t.Fatalf("kubectl apply %s/rbac.yaml: %v\n%s", dir, err, out)
	}
	as := "--as=system:serviceaccount:" + ns + ":" + sa
	for _, q := range qs {
		if q.namespace == "" {
			q.namespace = ns
		}
		// can-i exits 1 for "no": the answer is what counts.
		got, _ := kube("auth", "can-i", q.verb, q.resource, "--namespace="+q.namespace, as)
		if got != q.want {
			t.Errorf("%s: can-i %s %s in %s: %q, want %s", sa, q.verb, q.resource, q.namespace, got, q.want)
		}
	}
}

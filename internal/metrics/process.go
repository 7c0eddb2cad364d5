package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/procfs"
)

// treeCollector exports the app's process tree (the child and every
// descendant) summed, like one process: the names are chosen by New (see
// the package doc).
type treeCollector struct {
	proc    string // /proc
	rootPID func() int

	cpu, rss, vsize, fds, maxFDs, start, count *prometheus.Desc

	mu      sync.Mutex
	lastCPU float64 // raw sum at the last collection
	lostCPU float64 // CPU of processes that left the tree unaccounted
}

func newTreeCollector(procDir, prefix string, rootPID func() int) *treeCollector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(prefix+name, help, nil, nil) }
	return &treeCollector{
		proc: procDir, rootPID: rootPID,
		cpu:    d("cpu_seconds_total", "User and system CPU time of the app's process tree (the child and its descendants), reaped descendants included."),
		rss:    d("resident_memory_bytes", "Resident memory of the app's process tree, summed."),
		vsize:  d("virtual_memory_bytes", "Virtual memory of the app's process tree, summed."),
		fds:    d("open_fds", "Open file descriptors of the app's process tree, summed."),
		maxFDs: d("max_fds", "Open file descriptor limit of the app's main process."),
		start:  d("start_time_seconds", "Start time of the app's main process since the Unix epoch."),
		count:  prometheus.NewDesc("pysup_app_processes", "Processes in the app's process tree.", nil, nil),
	}
}

func (c *treeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.cpu, c.rss, c.vsize, c.fds, c.maxFDs, c.start, c.count} {
		ch <- d
	}
}

func (c *treeCollector) Collect(ch chan<- prometheus.Metric) {
	root := 0
	if c.rootPID != nil {
		root = c.rootPID()
	}
	if root <= 0 {
		ch <- prometheus.MustNewConstMetric(c.count, prometheus.GaugeValue, 0)
		return
	}
	fs, err := procfs.NewFS(c.proc)
	if err != nil {
		return
	}
	procs, err := fs.AllProcs()
	if err != nil {
		return
	}
	// One pass over /proc: parent links, then the tree from root.
	stats := make(map[int]procfs.ProcStat, len(procs))
	children := make(map[int][]int)
	for _, p := range procs {
		st, err := p.Stat()
		if err != nil {
			continue // exited meanwhile
		}
		stats[p.PID] = st
		children[st.PPID] = append(children[st.PPID], p.PID)
	}
	rootStat, ok := stats[root]
	if !ok {
		ch <- prometheus.MustNewConstMetric(c.count, prometheus.GaugeValue, 0)
		return
	}
	var cpu, rss, vsize, fds float64
	n := 0
	queue := []int{root}
	seen := map[int]bool{root: true}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		st := stats[pid]
		n++
		// cutime/cstime hold the reaped children, which left the tree.
		cpu += st.CPUTime() + float64(st.CUTime+st.CSTime)/userHZ
		rss += float64(st.ResidentMemory())
		vsize += float64(st.VirtualMemory())
		if p, err := fs.Proc(pid); err == nil {
			if k, err := p.FileDescriptorsLen(); err == nil {
				fds += float64(k)
			}
		}
		for _, ch := range children[pid] {
			if !seen[ch] {
				seen[ch] = true
				queue = append(queue, ch)
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(c.cpu, prometheus.CounterValue, c.monotonicCPU(cpu))
	ch <- prometheus.MustNewConstMetric(c.rss, prometheus.GaugeValue, rss)
	ch <- prometheus.MustNewConstMetric(c.vsize, prometheus.GaugeValue, vsize)
	ch <- prometheus.MustNewConstMetric(c.fds, prometheus.GaugeValue, fds)
	ch <- prometheus.MustNewConstMetric(c.count, prometheus.GaugeValue, float64(n))
	if t, err := rootStat.StartTime(); err == nil {
		ch <- prometheus.MustNewConstMetric(c.start, prometheus.GaugeValue, t)
	}
	if p, err := fs.Proc(root); err == nil {
		if l, err := p.Limits(); err == nil {
			ch <- prometheus.MustNewConstMetric(c.maxFDs, prometheus.GaugeValue, float64(l.OpenFiles))
		}
	}
}

// userHZ is the kernel's USER_HZ, 100 on every Linux architecture.
const userHZ = 100

// monotonicCPU keeps the counter from going backwards when a descendant
// dies without its parent reaping it (re-parented to pysup): its CPU then
// leaves the sum, so the drop is added back.
func (c *treeCollector) monotonicCPU(raw float64) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if raw < c.lastCPU {
		c.lostCPU += c.lastCPU - raw
	}
	c.lastCPU = raw
	return raw + c.lostCPU
}

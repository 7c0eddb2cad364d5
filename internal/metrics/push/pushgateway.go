// Package push ships pysup's exposition: to a Pushgateway (client_golang's
// push package) and with the Prometheus remote-write 1.0 protocol.
package push

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// GatherFunc collects the exposition to ship.
type GatherFunc func(ctx context.Context) ([]*dto.MetricFamily, error)

// PushgatewayOptions configure a Pushgateway.
type PushgatewayOptions struct {
	URL      string
	Job      string
	Grouping map[string]string // besides job, e.g. namespace and pod
	Client   *http.Client
	Gather   GatherFunc
	// Registerer receives pysup_push_* metrics; nil registers nothing.
	Registerer prometheus.Registerer
}

// Pushgateway pushes the whole exposition as one group, replacing it
// (PUT), so series the app stopped exporting disappear too.
type Pushgateway struct {
	opts    PushgatewayOptions
	reserve map[string]bool
	pushes  *prometheus.CounterVec
	last    prometheus.Gauge
}

// NewPushgateway checks the options and returns a Pushgateway.
func NewPushgateway(opts PushgatewayOptions) (*Pushgateway, error) {
	if _, err := url.Parse(opts.URL); err != nil {
		return nil, fmt.Errorf("pushgateway URL: %w", err)
	}
	if opts.Job == "" {
		return nil, fmt.Errorf("pushgateway: empty job")
	}
	p := &Pushgateway{opts: opts, reserve: map[string]bool{"job": true}}
	for k := range opts.Grouping {
		p.reserve[k] = true
	}
	p.pushes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pysup_push_total",
		Help: "Pushgateway requests by operation (push, delete) and result (success, error)."}, []string{"op", "result"})
	p.last = prometheus.NewGauge(prometheus.GaugeOpts{Name: "pysup_push_last_success_time_seconds",
		Help: "Unix time of the last successful push to the Pushgateway."})
	for _, op := range []string{"push", "delete"} {
		for _, r := range []string{"success", "error"} {
			p.pushes.WithLabelValues(op, r)
		}
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(p.pushes, p.last)
	}
	return p, nil
}

func (p *Pushgateway) pusher(ctx context.Context) *push.Pusher {
	g := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		mfs, err := p.opts.Gather(ctx)
		return p.sanitize(mfs), err
	})
	ps := push.New(p.opts.URL, p.opts.Job).Gatherer(g)
	keys := make([]string, 0, len(p.opts.Grouping))
	for k := range p.opts.Grouping {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ps = ps.Grouping(k, p.opts.Grouping[k])
	}
	return ps.Client(p.client())
}

func (p *Pushgateway) client() push.HTTPDoer {
	if p.opts.Client != nil {
		return p.opts.Client
	}
	return http.DefaultClient
}

// ctxDoer sends requests under a context.
type ctxDoer struct {
	c   push.HTTPDoer
	ctx context.Context
}

func (d ctxDoer) Do(r *http.Request) (*http.Response, error) { return d.c.Do(r.WithContext(d.ctx)) }

// Push replaces the group with the current exposition.
func (p *Pushgateway) Push(ctx context.Context) error {
	err := p.pusher(ctx).PushContext(ctx)
	p.count("push", err)
	if err == nil {
		p.last.SetToCurrentTime()
	}
	return err
}

// Delete removes the group.
func (p *Pushgateway) Delete(ctx context.Context) error {
	// Pusher.Delete takes no context: the client carries it.
	err := p.pusher(ctx).Client(ctxDoer{p.client(), ctx}).Delete()
	p.count("delete", err)
	return err
}

func (p *Pushgateway) count(op string, err error) {
	r := "success"
	if err != nil {
		r = "error"
	}
	p.pushes.WithLabelValues(op, r).Inc()
}

// sanitize makes the exposition acceptable to the Pushgateway, which
// rejects a whole push when a series carries a grouping label (job,
// namespace, pod) or a timestamp: such labels are renamed exported_NAME,
// as Prometheus does on conflicts, and timestamps dropped. The families
// are copied; the gathered ones are not changed.
func (p *Pushgateway) sanitize(mfs []*dto.MetricFamily) []*dto.MetricFamily {
	out := make([]*dto.MetricFamily, 0, len(mfs))
	for _, mf := range mfs {
		c := &dto.MetricFamily{Name: mf.Name, Help: mf.Help, Type: mf.Type, Unit: mf.Unit,
			Metric: make([]*dto.Metric, 0, len(mf.Metric))}
		for _, m := range mf.Metric {
			if m.TimestampMs == nil && !p.hasReserved(m) {
				c.Metric = append(c.Metric, m)
				continue
			}
			cm := proto.Clone(m).(*dto.Metric)
			cm.TimestampMs = nil
			for _, l := range cm.Label {
				for p.reserve[l.GetName()] {
					l.Name = proto.String("exported_" + l.GetName())
				}
			}
			c.Metric = append(c.Metric, cm)
		}
		out = append(out, c)
	}
	return out
}

func (p *Pushgateway) hasReserved(m *dto.Metric) bool {
	for _, l := range m.Label {
		if p.reserve[l.GetName()] {
			return true
		}
	}
	return false
}

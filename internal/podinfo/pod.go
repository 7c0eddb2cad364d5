// Package podinfo gives pysup the metadata of the pod it runs in, from the
// Kubernetes Downward API: the env vars POD_NAME, POD_NAMESPACE, POD_UID,
// POD_IP, NODE_NAME and CONTAINER_NAME, and the labels and annotations files
// of a Downward API volume. Outside Kubernetes (no POD_NAME) there is no pod.
//
// The logs part writes a Pod as the "kubernetes" object of every record and
// the metrics part uses it for push grouping labels, so the API stays generic:
// a Pod value, and a Source that keeps the current one.
package podinfo

import "maps"

// Pod is the metadata of one pod. A Pod handed out by a Source is never
// modified afterwards: a change produces a new Pod.
type Pod struct {
	Name        string // POD_NAME
	Namespace   string // POD_NAMESPACE
	UID         string // POD_UID
	IP          string // POD_IP
	Node        string // NODE_NAME
	Container   string // CONTAINER_NAME
	Labels      map[string]string
	Annotations map[string]string
}

// InKubernetes reports whether the pod's identity is known at all.
func (p *Pod) InKubernetes() bool { return p != nil && p.Name != "" }

// Fields returns the pod as Fluent Bit's kubernetes filter names it
// (pod_name, namespace_name, pod_id, pod_ip, host, container_name, labels,
// annotations), leaving out what is unknown. Values are strings or
// map[string]string.
func (p *Pod) Fields() []Field {
	if !p.InKubernetes() {
		return nil
	}
	var f []Field
	add := func(k, v string) {
		if v != "" {
			f = append(f, Field{Key: k, Value: v})
		}
	}
	add("pod_name", p.Name)
	add("namespace_name", p.Namespace)
	add("pod_id", p.UID)
	add("pod_ip", p.IP)
	add("host", p.Node)
	add("container_name", p.Container)
	if len(p.Labels) > 0 {
		f = append(f, Field{Key: "labels", Map: maps.Clone(p.Labels)})
	}
	if len(p.Annotations) > 0 {
		f = append(f, Field{Key: "annotations", Map: maps.Clone(p.Annotations)})
	}
	return f
}

// Field is one member of the kubernetes object: a string Value, or a Map
// for labels and annotations.
type Field struct {
	Key   string
	Value string
	Map   map[string]string
}

// equal reports whether two pods carry the same metadata.
func (p *Pod) equal(q *Pod) bool {
	if p == nil || q == nil {
		return p == q
	}
	return p.Name == q.Name && p.Namespace == q.Namespace && p.UID == q.UID &&
		p.IP == q.IP && p.Node == q.Node && p.Container == q.Container &&
		maps.Equal(p.Labels, q.Labels) && maps.Equal(p.Annotations, q.Annotations)
}

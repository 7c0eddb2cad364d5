//go:build tools

// Package kube pins the kube-apiserver, etcd and kubectl that pysup's
// Kubernetes tests run against. It is a scratch module of its own so that
// pysup's go.mod never depends on k8s.io/kubernetes.
package kube

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)

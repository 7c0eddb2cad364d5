#!/bin/sh
# Builds kube-apiserver, etcd and kubectl into tools/kube/bin for the
# Kubernetes tests (discovery, manifests of examples/). Skips what exists: a
# cold build takes about 7 minutes and 2.3 GB of memory, so CI caches
# tools/kube/bin.
set -eu
cd "$(dirname "$0")"
mkdir -p bin
if [ -x bin/kube-apiserver ] && [ -x bin/etcd ] && [ -x bin/kubectl ]; then
	exit 0
fi
# Not the caller's GOFLAGS: pysup's build tags are not the tools'.
export GOFLAGS=-buildvcs=false
VERSION=v1.36.3
LDFLAGS="-X k8s.io/component-base/version.gitVersion=$VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=36"
# nice: the build competes with tests on small machines.
[ -x bin/etcd ] || nice -n 19 go build -trimpath -o bin/etcd go.etcd.io/etcd/server/v3
[ -x bin/kube-apiserver ] || nice -n 19 go build -trimpath -ldflags "$LDFLAGS" -o bin/kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
[ -x bin/kubectl ] || nice -n 19 go build -trimpath -ldflags "$LDFLAGS" -o bin/kubectl k8s.io/kubernetes/cmd/kubectl

//go:build startfloor_deps

package main

// The third-party packages pysup imports, for their package initialisation
// (client_golang's default registry, procfs' and protobuf's tables...) and
// the size they add to the binary. Keep in step with go.mod.
import (
	_ "github.com/caarlos0/env/v11"
	_ "github.com/go-zeromq/zmq4"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/prometheus/client_golang/prometheus/push"
	_ "github.com/prometheus/client_model/go"
	_ "github.com/prometheus/common/expfmt"
	_ "github.com/prometheus/procfs"
	_ "github.com/tinylib/msgp/msgp"
	_ "net/http"
)

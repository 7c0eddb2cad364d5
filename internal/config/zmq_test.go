package config

import (
	"strings"
	"testing"
	"time"
)

func TestZMQSettings(t *testing.T) {
	cfg, err := Load([]string{"--zmq-timeout=5s", "--", "app"}, []string{
		"PYSUP_ZMQ_BACKENDS=k8s://apps/backend:zmq",
		"PYSUP_ZMQ_MAX_MESSAGE=64KiB",
		"PYSUP_ZMQ_RETRY=1",
	})
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.ZMQOptions()
	if o.Frontend != "tcp://127.0.0.1:5555" || o.Timeout != 5*time.Second || o.MaxMessage != 64<<10 || o.Retry != 1 || o.MaxInflight != 64 {
		t.Errorf("options: %+v", o)
	}
	if d := cfg.ZMQDiscovery(); d.DNSInterval != 5*time.Second {
		t.Errorf("discovery: %+v", d)
	}
}

func TestZMQSettingsErrors(t *testing.T) {
	_, err := Load([]string{"--", "app"}, []string{
		"PYSUP_ZMQ_FRONTEND=udp://x:1",
		"PYSUP_ZMQ_BACKENDS=k8s://ns/svc",
		"PYSUP_ZMQ_RETRY=-1",
		"PYSUP_ZMQ_TIMEOUT=0s",
		"PYSUP_ZMQ_MAX_INFLIGHT=0",
		"PYSUP_ZMQ_MAX_MESSAGE=10",
		"PYSUP_ZMQ_DNS_INTERVAL=1ms",
		"PYSUP_ZMQ_DNS_SERVER=nohost",
	})
	if err == nil {
		t.Fatal("bad settings accepted")
	}
	for _, v := range []string{"PYSUP_ZMQ_FRONTEND", "PYSUP_ZMQ_BACKENDS", "PYSUP_ZMQ_RETRY", "PYSUP_ZMQ_TIMEOUT",
		"PYSUP_ZMQ_MAX_INFLIGHT", "PYSUP_ZMQ_MAX_MESSAGE", "PYSUP_ZMQ_DNS_INTERVAL", "PYSUP_ZMQ_DNS_SERVER"} {
		if !strings.Contains(err.Error(), v) {
			t.Errorf("error does not name %s:\n%v", v, err)
		}
	}
}

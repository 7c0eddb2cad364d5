package main

import (
	"strings"

	"github.com/pysup/pysup/internal/identity"
)

// childEnv is pysup's environment plus what the preset and the parts add.
// A preset never overrides what the user set; the parts' own variables
// (NOTIFY_SOCKET...) always win. A dropped identity gets its HOME and USER,
// as gosu does.
func childEnv(base []string, preset, parts map[string]string, id *identity.Identity) []string {
	set := make(map[string]int, len(base))
	env := append([]string(nil), base...)
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = i
	}
	put := func(k, v string, override bool) {
		if i, ok := set[k]; ok {
			if override {
				env[i] = k + "=" + v
			}
			return
		}
		set[k] = len(env)
		env = append(env, k+"="+v)
	}
	for k, v := range preset {
		put(k, v, false)
	}
	if id != nil {
		if id.Home != "" {
			put("HOME", id.Home, true)
		}
		if id.Name != "" {
			put("USER", id.Name, true)
		}
	}
	for k, v := range parts {
		put(k, v, true)
	}
	return env
}

// envMap turns KEY=VALUE strings into a map.
func envMap(kvs []string) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

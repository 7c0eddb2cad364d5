package config

// ZMQ holds the settings of the ZeroMQ balancer.
type ZMQ struct{}

func (z ZMQ) validate(vars map[string]string, field func(string) string) []string { return nil }

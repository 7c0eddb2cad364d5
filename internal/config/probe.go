package config

// Probe holds the settings of the probe part.
type Probe struct{}

func (p Probe) validate(vars map[string]string, field func(string) string) []string { return nil }

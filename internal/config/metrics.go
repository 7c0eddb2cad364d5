package config

// Metrics holds the settings of the metrics part.
type Metrics struct{}

func (m Metrics) validate(vars map[string]string, field func(string) string) []string { return nil }

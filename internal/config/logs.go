package config

// Logs holds the settings of the logs part.
type Logs struct{}

func (l Logs) validate(vars map[string]string, field func(string) string) []string { return nil }

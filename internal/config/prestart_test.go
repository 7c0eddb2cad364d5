package config

import (
	"errors"
	"strings"
	"testing"
)

func TestPrestartAndSizing(t *testing.T) {
	cfg, err := Load([]string{"--prestart", `python3 manage.py migrate --noinput && echo 'a b'`, "--", "app"},
		[]string{"PYSUP_PRESTART_TIMEOUT=5m", "PYSUP_WEB_CONCURRENCY=7"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.PrestartCommands) != 2 || cfg.PrestartCommands[1].Argv[1] != "a b" || cfg.PrestartTimeout.Minutes() != 5 {
		t.Errorf("prestart = %+v, timeout %s", cfg.PrestartCommands, cfg.PrestartTimeout)
	}
	if cfg.WebConcurrency.Auto || cfg.WebConcurrency.N != 7 {
		t.Errorf("web concurrency = %+v", cfg.WebConcurrency)
	}
	def, err := Load([]string{"--", "app"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(def.PrestartCommands) != 0 || !def.WebConcurrency.Auto || def.WorkerMemory != 128<<20 {
		t.Errorf("defaults: %+v %+v", def.Prestart, def.Sizing)
	}
}

// Every problem is listed, each naming its variable and flag.
func TestPrestartAndSizingErrors(t *testing.T) {
	_, err := Load([]string{"--", "app"}, []string{
		`PYSUP_PRESTART=python3 manage.py migrate --message 'oops`,
		"PYSUP_PRESTART_TIMEOUT=soon",
		"PYSUP_WEB_CONCURRENCY=many",
	})
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"PYSUP_PRESTART (--prestart): unterminated single quote",
		"PYSUP_PRESTART_TIMEOUT (--prestart-timeout)",
		"PYSUP_WEB_CONCURRENCY (--web-concurrency): want auto, off or a number",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not say %q:\n%s", want, msg)
		}
	}
}

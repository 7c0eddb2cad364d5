package signals

import (
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Preset is what one Python server needs for a graceful stop.
type Preset struct {
	Name string
	// Stop is the signal that asks the server to finish in-flight work and
	// exit.
	Stop Signal
	// Rewrite applies to forwarded signals.
	Rewrite Rewrite
	// MasterOnly says the stop signal and forwarded signals go to the
	// server's master process only: it stops its workers itself, and a
	// worker that gets the master's signal directly dies mid-request
	// (uWSGI) or mid-task (celery).
	MasterOnly bool
	// ReadyCheck is the readiness check used when the user sets none:
	// "notify" for servers that send sd_notify READY=1 on their own.
	ReadyCheck string
	// Env is added to the child's environment unless the user set the
	// variable already.
	Env map[string]string
	// Doc says why, for --help and the README's signal table.
	Doc string
}

var presets = map[string]Preset{
	"gunicorn": {
		Name: "gunicorn", Stop: Signal(unix.SIGTERM), MasterOnly: true, ReadyCheck: "notify",
		Doc: "TERM is gunicorn's graceful stop (workers finish requests within graceful_timeout); INT/QUIT stop at once, HUP reloads.",
	},
	"uwsgi": {
		Name: "uwsgi", Stop: Signal(unix.SIGTERM), MasterOnly: true, ReadyCheck: "notify",
		// uWSGI 2.0 treats TERM as a brutal reload. This documented hook
		// turns TERM into gracefully_kill_them_all, so in-flight requests
		// finish and the master exits instead of respawning.
		Env: map[string]string{
			"UWSGI_HOOK_MASTER_START": "unix_signal:15 gracefully_kill_them_all",
		},
		Doc: "uWSGI 2.0 treats TERM as a brutal reload; the preset sets UWSGI_HOOK_MASTER_START so TERM means gracefully_kill_them_all.",
	},
	"celery": {
		Name: "celery", Stop: Signal(unix.SIGTERM), MasterOnly: true,
		Doc: "TERM is celery's warm shutdown (running tasks finish); QUIT is the cold one.",
	},
	"uvicorn": {
		Name: "uvicorn", Stop: Signal(unix.SIGTERM), MasterOnly: true,
		Doc: "TERM and INT are both graceful for uvicorn; a second INT forces the exit.",
	},
	"python": {
		Name: "python", Stop: Signal(unix.SIGINT),
		// Plain CPython dies on TERM without running finally blocks or
		// atexit; INT raises KeyboardInterrupt, which runs them.
		Rewrite: Rewrite{Signal(unix.SIGTERM): Signal(unix.SIGINT)},
		Doc:     "Plain Python dies on TERM without cleanup; INT raises KeyboardInterrupt so finally blocks and atexit run. TERM is rewritten to INT.",
	},
}

// LookupPreset returns the named preset.
func LookupPreset(name string) (Preset, error) {
	p, ok := presets[strings.ToLower(name)]
	if !ok {
		return Preset{}, fmt.Errorf("unknown preset %q (known: %s)", name, strings.Join(PresetNames(), ", "))
	}
	return p, nil
}

// PresetNames lists the presets, sorted.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

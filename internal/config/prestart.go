package config

import (
	"fmt"
	"time"

	"github.com/pysup/pysup/internal/prestart"
)

// Prestart holds the settings of the pre-start phase: commands run in
// order before the first start of the child.
type Prestart struct {
	PrestartCommands prestart.Commands `env:"PYSUP_PRESTART" help:"commands run in order before the child starts (e.g. python3 manage.py migrate --noinput && python3 manage.py collectstatic --noinput): split as a shell splits words (quotes, backslashes), joined by &&, no shell run; with the child's environment and user; not re-run on in-place restarts"`
	PrestartTimeout  time.Duration     `env:"PYSUP_PRESTART_TIMEOUT" envDefault:"0s" help:"time limit of all pre-start commands together; the one running then is stopped (stop signal, SIGKILL after PYSUP_STOP_TIMEOUT) and pysup exits with its status (0: no limit)"`
}

func (p Prestart) validate(_ map[string]string, field func(string) string) []string {
	if p.PrestartTimeout < 0 {
		return []string{fmt.Sprintf("%s: must not be negative", field("PrestartTimeout"))}
	}
	return nil
}

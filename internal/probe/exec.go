package probe

import (
	"context"
	"fmt"
	"strings"
)

// maxExecOutput is how much of an exec check's output is kept.
const maxExecOutput = 4 << 10

// execProbe passes when the command exits 0, as the kubelet's exec probe
// does. It runs through r (pysup's reaper), never os/exec: a reaping PID 1
// would steal exec.Cmd's status. On timeout r kills the process group.
func execProbe(s Spec, r Runner, env []string) probeFunc {
	return func(ctx context.Context) error {
		out, st, err := r.Output(ctx, s.Argv, env, maxExecOutput)
		if err != nil {
			return err
		}
		if code := st.ExitCode(); code != 0 {
			if msg := strings.TrimSpace(boundedText(out, 200)); msg != "" {
				return fmt.Errorf("exit status %d: %s", code, msg)
			}
			return fmt.Errorf("exit status %d", code)
		}
		return nil
	}
}

package config

import (
	"fmt"
	"io"
	"strings"
)

// WriteReference writes the Markdown table of every setting: the README's
// configuration reference is this output, checked by a test so the two
// cannot drift.
func WriteReference(w io.Writer) {
	fmt.Fprintln(w, "| Variable | Flag | Default | Meaning |")
	fmt.Fprintln(w, "| --- | --- | --- | --- |")
	for _, f := range Fields() {
		def := f.Default
		if def == "" {
			def = "—"
		} else {
			def = "`" + def + "`"
		}
		fmt.Fprintf(w, "| `%s` | `--%s` | %s | %s |\n", f.Env, f.Flag, def, strings.ReplaceAll(f.Help, "|", `\|`))
	}
}

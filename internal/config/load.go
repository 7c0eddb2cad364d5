package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/caarlos0/env/v11"
)

// Field describes one setting: its variable, flag, default and help.
type Field struct {
	GoName  string
	Env     string
	Flag    string
	Default string
	Help    string
	Bool    bool
}

// Fields lists every setting of Config in declaration order. --help and the
// README's reference are generated from it.
func Fields() []Field {
	var out []Field
	walk(reflect.TypeOf(Config{}), &out)
	return out
}

func walk(t reflect.Type, out *[]Field) {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag, hasTag := sf.Tag.Lookup("env")
		if tag == "-" {
			continue
		}
		if !hasTag {
			if sf.Type.Kind() == reflect.Struct {
				walk(sf.Type, out)
			}
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		*out = append(*out, Field{
			GoName:  sf.Name,
			Env:     name,
			Flag:    flagName(name),
			Default: sf.Tag.Get("envDefault"),
			Help:    sf.Tag.Get("help"),
			Bool:    sf.Type.Kind() == reflect.Bool || sf.Type.Kind() == reflect.Pointer && sf.Type.Elem().Kind() == reflect.Bool,
		})
	}
}

// flagName turns PYSUP_DRAIN_DELAY into drain-delay and
// PROMETHEUS_MULTIPROC_DIR into prometheus-multiproc-dir.
func flagName(envName string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(envName, "PYSUP_")), "_", "-")
}

// Error lists every problem found in a configuration. Each names its
// environment variable and flag.
type Error struct {
	Problems []string
}

func (e *Error) Error() string {
	return "invalid configuration:\n  " + strings.Join(e.Problems, "\n  ")
}

// ErrHelp is returned by Load when -h or --help was given.
var ErrHelp = errors.New("help requested")

// Load builds a Config from the environment (KEY=VALUE strings) and the
// command line after the program name: flags, then "--" and the command.
// A bad configuration returns an *Error listing every problem.
func Load(args, environ []string) (*Config, error) {
	var idx *fieldIndex
	index := func() *fieldIndex {
		if idx == nil {
			idx = newFieldIndex()
		}
		return idx
	}

	vars := toMap(environ)
	var problems []string
	var command []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			command = args[i+1:]
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			command = args[i:]
			break
		}
		if a == "-h" || a == "--help" || a == "-help" {
			return nil, ErrHelp
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f, ok := index().byFlag[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("--%s: unknown flag", name))
			continue
		}
		if !hasVal {
			if f.Bool {
				val = "true"
				// "--signal-group false" must not run /bin/false.
				if i+1 < len(args) && (args[i+1] == "true" || args[i+1] == "false") {
					i++
					val = args[i]
				}
			} else if i+1 < len(args) {
				i++
				val = args[i]
			} else {
				problems = append(problems, fmt.Sprintf("%s: needs a value", describe(f)))
				continue
			}
		}
		vars[f.Env] = val
	}

	cfg := &Config{}
	if err := env.ParseWithOptions(cfg, env.Options{Environment: vars}); err != nil {
		var agg env.AggregateError
		if errors.As(err, &agg) {
			for _, e := range agg.Errors {
				problems = append(problems, explain(e, index().byGo)...)
			}
		} else {
			problems = append(problems, err.Error())
		}
	}
	// caarlos0/env falls back to the default for a variable set empty; for
	// the listen address users mean "no server", and get it.
	if v, set := vars["PYSUP_HTTP_ADDR"]; set && strings.TrimSpace(v) == "" || v == "off" {
		cfg.HTTPAddr = ""
	}
	cfg.Command = command
	problems = append(problems, cfg.validate(vars, func(goName string) string { return index().describe(goName) })...)
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	return cfg, nil
}

func describe(f Field) string { return f.Env + " (--" + f.Flag + ")" }

// fieldIndex finds settings by flag and by Go field name. Load builds it
// only when a flag was given or a problem must name its setting: the
// reflection over every struct tag is a good part of what Load costs, and
// `pysup -- CMD` configured by the environment alone never needs it.
type fieldIndex struct {
	byFlag, byGo map[string]Field
}

func newFieldIndex() *fieldIndex {
	fields := Fields()
	x := &fieldIndex{byFlag: make(map[string]Field, len(fields)), byGo: make(map[string]Field, len(fields))}
	for _, f := range fields {
		x.byFlag[f.Flag] = f
		x.byGo[f.GoName] = f
	}
	return x
}

// describe names the setting of a Go field by its variable and flag.
func (x *fieldIndex) describe(goName string) string {
	if f, ok := x.byGo[goName]; ok {
		return describe(f)
	}
	return goName
}

// explain turns one parse error into problems naming the variable and
// flag: one per entry when a value had several bad entries.
func explain(err error, byGo map[string]Field) []string {
	var pe env.ParseError
	if !errors.As(err, &pe) {
		return []string{err.Error()}
	}
	f, ok := byGo[pe.Name]
	if !ok {
		return []string{err.Error()}
	}
	errs := []error{pe.Err}
	if j, ok := pe.Err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = fmt.Sprintf("%s: %v", describe(f), e)
	}
	return out
}

// toMap is env.ToMap sized for environ up front and without a slice per
// variable: the environment is the one input every start parses whole.
func toMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// Environ is os.Environ, here so main and tests read the same way.
func Environ() []string { return os.Environ() }

// Default returns the default value of the setting named by its variable.
func Default(envName string) string {
	for _, f := range Fields() {
		if f.Env == envName {
			return f.Default
		}
	}
	return ""
}

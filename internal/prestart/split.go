package prestart

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Command is one pre-start command.
type Command struct {
	// Argv is the command's words, as a shell would split them.
	Argv []string
	// Name is safe to show: argv[0]'s base name and the following words up
	// to the first option, assignment or URL (where secrets live).
	Name string
}

// Commands is the parsed PYSUP_PRESTART: commands run in order, each only
// if the one before succeeded.
type Commands []Command

// UnmarshalText parses a PYSUP_PRESTART value.
func (c *Commands) UnmarshalText(b []byte) error {
	cmds, err := Parse(string(b))
	if err != nil {
		return err
	}
	*c = cmds
	return nil
}

// Parse splits s into commands joined by "&&". Words are split as a POSIX
// shell splits them (single and double quotes, backslashes), but no shell
// runs: nothing is expanded, and the other operators (| ; & < > `, $( ) are
// refused when unquoted rather than passed on as words, since a user who
// writes them expects a shell. An empty s is no commands.
func Parse(s string) (Commands, error) {
	words, ops, err := split(s)
	if err != nil {
		return nil, err
	}
	var out Commands
	var cur []string
	end := func() error {
		if len(cur) == 0 {
			return errors.New("empty command before or after &&")
		}
		out = append(out, Command{Argv: cur, Name: nameOf(cur)})
		cur = nil
		return nil
	}
	for i, w := range words {
		if ops[i] {
			if err := end(); err != nil {
				return nil, err
			}
			continue
		}
		cur = append(cur, w)
	}
	if len(cur) > 0 || len(out) > 0 {
		if err := end(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// split returns the words of s and, for each, whether it is the && operator.
func split(s string) (words []string, ops []bool, err error) {
	var (
		w      strings.Builder
		inWord bool
	)
	flush := func() {
		if inWord {
			words, ops = append(words, w.String()), append(ops, false)
			w.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			flush()
		case '\\':
			if i+1 >= len(s) {
				return nil, nil, errors.New("trailing backslash")
			}
			i++
			if s[i] != '\n' { // backslash-newline continues the line
				w.WriteByte(s[i])
				inWord = true
			}
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, nil, fmt.Errorf("unterminated single quote at offset %d", i)
			}
			w.WriteString(s[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case '"':
			start := i
			closed := false
			for i++; i < len(s); i++ {
				if s[i] == '"' {
					closed = true
					break
				}
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("$`\"\\\n", s[i+1]) >= 0 {
					i++
					if s[i] != '\n' {
						w.WriteByte(s[i])
					}
					continue
				}
				w.WriteByte(s[i])
			}
			if !closed {
				return nil, nil, fmt.Errorf("unterminated double quote at offset %d", start)
			}
			inWord = true
		case '&':
			if i+1 < len(s) && s[i+1] == '&' {
				flush()
				words, ops = append(words, "&&"), append(ops, true)
				i++
				continue
			}
			return nil, nil, operatorError("&", i)
		case '|', ';', '<', '>', '`', '(', ')':
			return nil, nil, operatorError(string(c), i)
		case '$':
			if i+1 < len(s) && s[i+1] == '(' {
				return nil, nil, operatorError("$(", i)
			}
			w.WriteByte(c)
			inWord = true
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return words, ops, nil
}

func operatorError(op string, at int) error {
	return fmt.Errorf("unquoted %q at offset %d: no shell runs the commands (only && joins them); quote it, or run sh -c explicitly", op, at)
}

// maxNameWords bounds a command's display name.
const maxNameWords = 4

// nameOf is what diagnostics, probes and records show of a command: its
// full argv may carry a password (--password=..., a database URL), so it
// stops at the first word that looks like an option, an assignment or a URL.
func nameOf(argv []string) string {
	words := []string{filepath.Base(argv[0])}
	for _, a := range argv[1:] {
		if len(words) == maxNameWords || strings.HasPrefix(a, "-") || strings.ContainsAny(a, "=@:") {
			break
		}
		words = append(words, a)
	}
	return strings.Join(words, " ")
}

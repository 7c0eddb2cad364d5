package prestart

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want [][]string
	}{
		{"", nil},
		{"   ", nil},
		{"python3 manage.py migrate --noinput", [][]string{{"python3", "manage.py", "migrate", "--noinput"}}},
		{"python manage.py migrate --noinput && python manage.py collectstatic --noinput",
			[][]string{{"python", "manage.py", "migrate", "--noinput"}, {"python", "manage.py", "collectstatic", "--noinput"}}},
		{"a&&b", [][]string{{"a"}, {"b"}}},
		{`echo 'a b' "c d" e\ f`, [][]string{{"echo", "a b", "c d", "e f"}}},
		{`echo "it's" 'say "hi"'`, [][]string{{"echo", "it's", `say "hi"`}}},
		{`echo "a\"b\\c\d\$x"`, [][]string{{"echo", `a"b\c\d$x`}}},
		{`echo '\n' \\`, [][]string{{"echo", `\n`, `\`}}},
		{`echo '' ""`, [][]string{{"echo", "", ""}}},
		{`echo x'y'"z"`, [][]string{{"echo", "xyz"}}},
		{`echo "a && b" '&&'`, [][]string{{"echo", "a && b", "&&"}}},
		{"echo a \\\n b", [][]string{{"echo", "a", "b"}}},
		{`echo $HOME`, [][]string{{"echo", "$HOME"}}},
		{`sh -c 'a | b; c > d'`, [][]string{{"sh", "-c", "a | b; c > d"}}},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		var argvs [][]string
		for _, cmd := range got {
			argvs = append(argvs, cmd.Argv)
		}
		if !reflect.DeepEqual(argvs, c.want) {
			t.Errorf("Parse(%q) = %q, want %q", c.in, argvs, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]string{
		`echo 'oops`:    "unterminated single quote",
		`echo "oops`:    "unterminated double quote",
		`echo "a\"`:     "unterminated double quote",
		`echo oops\`:    "trailing backslash",
		`a && && b`:     "empty command",
		`&& a`:          "empty command",
		`a &&`:          "empty command",
		`a | b`:         `unquoted "|"`,
		`a ; b`:         `unquoted ";"`,
		`a & b`:         `unquoted "&"`,
		`a > f`:         `unquoted ">"`,
		`a < f`:         `unquoted "<"`,
		"echo `id`":     "unquoted \"`\"",
		`echo $(id)`:    `unquoted "$("`,
		`a || b`:        `unquoted "|"`,
		`python -c (1)`: `unquoted "("`,
	}
	for in, want := range cases {
		_, err := Parse(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) error = %v, want it to say %q", in, err, want)
		}
	}
}

func TestName(t *testing.T) {
	cases := map[string]string{
		"python3 manage.py migrate --noinput":                     "python3 manage.py migrate",
		"/usr/bin/python3 /app/manage.py collectstatic --noinput": "python3 /app/manage.py collectstatic",
		"mysql -uroot -psecret db":                                "mysql",
		"psql postgres://u:secret@db/app -c x":                    "psql",
		"env DB_PASSWORD=secret python3 manage.py migrate":        "env",
		"flask --app app db upgrade":                              "flask",
		"alembic upgrade head now and then":                       "alembic upgrade head now",
		"tool user@example.com":                                   "tool",
	}
	for in, want := range cases {
		cmds, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := cmds[0].Name; got != want {
			t.Errorf("name of %q = %q, want %q", in, got, want)
		}
	}
}

// FuzzParse checks that any input either parses into non-empty commands of
// words or fails with an error, never panics, and that a command's words
// quoted back parse to the same words.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"a && b", `echo 'a b' "c\"d" e\ f`, "a\\\nb", `"unterminated`, "x&&&&y", "$(x)", "''"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cmds, err := Parse(s)
		if err != nil {
			return
		}
		for _, c := range cmds {
			if len(c.Argv) == 0 || c.Name == "" {
				t.Fatalf("Parse(%q): empty command %+v", s, c)
			}
			var quoted []string
			for _, w := range c.Argv {
				quoted = append(quoted, "'"+strings.ReplaceAll(w, "'", `'\''`)+"'")
			}
			again, err := Parse(strings.Join(quoted, " "))
			if err != nil || len(again) != 1 || !reflect.DeepEqual(again[0].Argv, c.Argv) {
				t.Fatalf("words %q quoted back parse to %+v, %v", c.Argv, again, err)
			}
		}
	})
}

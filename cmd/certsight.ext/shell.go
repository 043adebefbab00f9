package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/certsight/certsight/tables"
	"github.com/certsight/certsight/tables/vtable"
)

// runStandalone runs --query, or the SQL read from stdin, or an interactive
// prompt when stdin is a terminal, over an embedded SQLite holding the tables.
func runStandalone(ctx context.Context, o options, log *slog.Logger, stdin io.Reader, stdout, stderr io.Writer) int {
	ts := tables.All(deps(o, log))
	db, err := vtable.Open(ctx, ts)
	if err != nil {
		fmt.Fprintf(stderr, "certsight.ext: %v\n", err)
		return 1
	}
	defer db.Close()
	format := prettyFormat
	switch {
	case o.json:
		format = jsonFormat
	case o.csv:
		format = csvFormat
	}
	sh := &shell{ctx: ctx, db: db, tables: ts, format: format, jsonOut: o.json, stdout: stdout, stderr: stderr}

	if o.query != "" {
		return sh.runScript(o.query)
	}
	if isTerminal(stdin) {
		return sh.interactive(stdin)
	}
	script, err := io.ReadAll(stdin)
	if err != nil {
		fmt.Fprintf(stderr, "certsight.ext: reading stdin: %v\n", err)
		return 1
	}
	return sh.runScript(string(script))
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

type shell struct {
	ctx    context.Context
	db     *sql.DB
	tables []tables.Table
	format formatter
	// jsonOut: several statements print one JSON document (an array of
	// their result arrays), not several arrays one after the other.
	jsonOut bool
	stdout  io.Writer
	stderr  io.Writer
}

// runScript runs each statement of script; it stops at the first error and
// returns the exit code.
func (s *shell) runScript(script string) int {
	stmts := splitStatements(script)
	if len(stmts) == 0 {
		fmt.Fprintln(s.stderr, "certsight.ext: no SQL statement given")
		return 1
	}
	if s.jsonOut && len(stmts) > 1 {
		return s.runJSONDocument(stmts)
	}
	for _, q := range stmts {
		if err := s.exec(q); err != nil {
			fmt.Fprintf(s.stderr, "Error: %v\n", err)
			return 1
		}
	}
	return 0
}

// runJSONDocument prints the results of several statements as one JSON
// array whose elements are each statement's result array; a failing
// statement ends the document where it stands (still valid JSON).
func (s *shell) runJSONDocument(stmts []string) int {
	out := s.stdout
	defer func() { s.stdout = out }()
	fmt.Fprint(out, "[\n")
	code := 0
	for i, q := range stmts {
		var buf bytes.Buffer
		s.stdout = &buf
		if err := s.exec(q); err != nil {
			fmt.Fprintf(s.stderr, "Error: %v\n", err)
			code = 1
			break
		}
		if i > 0 {
			fmt.Fprint(out, ",\n")
		}
		out.Write(bytes.TrimRight(buf.Bytes(), "\n"))
	}
	fmt.Fprint(out, "\n]\n")
	return code
}

func (s *shell) exec(q string) error {
	rows, err := s.db.QueryContext(s.ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	out := s.format(cols)
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = sqlString(v)
		}
		out.add(row)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return out.flush(s.stdout)
}

// sqlString prints a value as osqueryi does: everything is a string and NULL
// is empty.
func sqlString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case []byte:
		return string(x)
	case string:
		return x
	}
	return fmt.Sprint(v)
}

const prompt = "certsight> "

// interactive is a small line-oriented prompt: statements end with `;`,
// dot-commands (.tables, .schema, .exit) stand alone on a line.
func (s *shell) interactive(in io.Reader) int {
	fmt.Fprintf(s.stdout, "certsight %s standalone shell; end statements with ';', .help for commands\n", version)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	var pending strings.Builder
	for {
		if pending.Len() == 0 {
			fmt.Fprint(s.stdout, prompt)
		} else {
			fmt.Fprint(s.stdout, "      ...> ")
		}
		if !sc.Scan() {
			fmt.Fprintln(s.stdout)
			return 0
		}
		line := sc.Text()
		if pending.Len() == 0 && strings.HasPrefix(strings.TrimSpace(line), ".") {
			if quit := s.dotCommand(strings.Fields(strings.TrimSpace(line))); quit {
				return 0
			}
			continue
		}
		pending.WriteString(line)
		pending.WriteString("\n")
		if !strings.Contains(line, ";") {
			// No statement can have ended: don't scan the whole pending
			// text again for every pasted line (quadratic in its length).
			continue
		}
		stmts, rest := completeStatements(pending.String())
		for _, q := range stmts {
			if err := s.exec(q); err != nil {
				fmt.Fprintf(s.stderr, "Error: %v\n", err)
			}
		}
		pending.Reset()
		if strings.TrimSpace(stripComments(rest)) != "" {
			pending.WriteString(rest)
		}
	}
}

func (s *shell) dotCommand(f []string) (quit bool) {
	switch f[0] {
	case ".exit", ".quit":
		return true
	case ".tables":
		for _, t := range s.tables {
			fmt.Fprintf(s.stdout, "  => %s\n", t.Name)
		}
	case ".schema":
		for _, t := range s.tables {
			if len(f) > 1 && f[1] != t.Name {
				continue
			}
			fmt.Fprintf(s.stdout, "%s;\n", vtable.Schema(t))
		}
	case ".mode":
		if len(f) < 2 {
			fmt.Fprintln(s.stderr, "usage: .mode pretty|json|csv")
			break
		}
		fm, err := formatByName(f[1])
		if err != nil {
			fmt.Fprintf(s.stderr, "Error: %v\n", err)
			break
		}
		s.format = fm
	case ".help":
		fmt.Fprintln(s.stdout, ".tables            list the tables\n"+
			".schema [TABLE]    show the CREATE TABLE statements\n"+
			".mode pretty|json|csv  choose the output format\n"+
			".exit, .quit       leave")
	default:
		fmt.Fprintf(s.stderr, "Error: unknown command %s (.help lists them)\n", f[0])
	}
	return false
}

// splitStatements splits SQL text on `;` outside quotes and comments and
// drops empty statements. The trailing statement need not end with `;`.
func splitStatements(sqlText string) []string {
	stmts, rest := completeStatements(sqlText)
	if strings.TrimSpace(stripComments(rest)) != "" {
		stmts = append(stmts, strings.TrimSpace(rest))
	}
	return stmts
}

// completeStatements returns the statements ended by `;` and the unfinished
// rest of sqlText.
func completeStatements(sqlText string) (stmts []string, rest string) {
	start := 0
	var quote byte
	for i := 0; i < len(sqlText); i++ {
		c := sqlText[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '[':
			quote = ']'
		case c == '-' && i+1 < len(sqlText) && sqlText[i+1] == '-':
			if j := strings.IndexByte(sqlText[i:], '\n'); j >= 0 {
				i += j
			} else {
				i = len(sqlText)
			}
		case c == '/' && i+1 < len(sqlText) && sqlText[i+1] == '*':
			if j := strings.Index(sqlText[i+2:], "*/"); j >= 0 {
				i += j + 3
			} else {
				i = len(sqlText)
			}
		case c == ';':
			if q := strings.TrimSpace(sqlText[start:i]); strings.TrimSpace(stripComments(q)) != "" {
				stmts = append(stmts, q)
			}
			start = i + 1
		}
	}
	if start > len(sqlText) {
		start = len(sqlText)
	}
	return stmts, sqlText[start:]
}

// stripComments removes -- line comments, enough to tell whether a rest
// holds any SQL at all.
func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		b.WriteString(line)
	}
	return b.String()
}

var errUnknownFormat = errors.New("unknown output format")

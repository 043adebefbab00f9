package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testpipe"
)

// TestPrettyEscapesControlCharacters: a crafted CN cannot drive the
// terminal: ESC, NUL, newlines and C1 controls are printed escaped.
func TestPrettyEscapesControlCharacters(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, formatPretty(&b, []string{"cn"}, [][]string{{"a\x1b[2Jb\x00c\nd\u009be\xff"}}))
	out := b.String()
	for _, bad := range []string{"\x1b", "\x00", "\u009b", "\xff"} {
		assert.NotContains(t, out, bad)
	}
	assert.Contains(t, out, `a\x1b[2Jb\x00c\nd\u009be\xff`)
	assert.Equal(t, 5, strings.Count(out, "\n"), "one line per row: the newline is escaped")
}

// TestCSVIsRFC4180: CRLF line ends, quoting as RFC 4180 says; read back by
// encoding/csv and by Python's csv module when python3 is there.
func TestCSVIsRFC4180(t *testing.T) {
	cols := []string{"a", "b"}
	rows := [][]string{{"x,y", "line1\nline2"}, {`q"uote`, ""}}
	var b bytes.Buffer
	require.NoError(t, formatCSV(&b, cols, rows))
	assert.True(t, strings.HasSuffix(b.String(), "\r\n"))
	got, err := csv.NewReader(bytes.NewReader(b.Bytes())).ReadAll()
	require.NoError(t, err)
	assert.Equal(t, append([][]string{cols}, rows...), got)
	if py, err := exec.LookPath("python3"); err == nil {
		cmd := exec.Command(py, "-c", "import csv,sys,json; print(json.dumps(list(csv.reader(sys.stdin, strict=True))))")
		cmd.Stdin = bytes.NewReader(b.Bytes())
		out, err := cmd.Output()
		require.NoError(t, err)
		var pyRows [][]string
		require.NoError(t, json.Unmarshal(out, &pyRows))
		assert.Equal(t, got, pyRows, "python's csv reads the same")
	}
}

// TestMultiStatementJSONIsOneDocument: several statements with --json give
// one JSON value, an array of result arrays.
func TestMultiStatementJSONIsOneDocument(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"--json", "--config", filepath.Join(t.TempDir(), "none.json"),
		"--query", "SELECT 1 AS a; SELECT 'x' AS b, 2 AS c; SELECT 3 AS d WHERE 0"}, strings.NewReader(""), &out, &errOut)
	require.Equal(t, 0, code, errOut.String())
	var doc [][]map[string]string
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc), out.String())
	assert.Equal(t, [][]map[string]string{{{"a": "1"}}, {{"b": "x", "c": "2"}}, {}}, doc)

	out.Reset()
	code = run([]string{"--json", "--query", "SELECT 1 AS a"}, strings.NewReader(""), &out, &errOut)
	require.Equal(t, 0, code)
	var one []map[string]string
	require.NoError(t, json.Unmarshal(out.Bytes(), &one), "one statement: the array alone, as before")
}

// TestFlagEdgeCases: a negative timeout is an error (not "unknown flag
// -1"), and an empty --socket= never starts the interactive shell.
func TestFlagEdgeCases(t *testing.T) {
	for _, args := range [][]string{{"--timeout", "-1"}, {"--timeout=-1"}, {"--interval", "0"}, {"--socket="}, {"--socket", ""}} {
		var out, errOut bytes.Buffer
		code := run(args, strings.NewReader("SELECT 1;"), &out, &errOut)
		assert.NotEqual(t, 0, code, "%v", args)
		assert.NotContains(t, errOut.String(), "unknown flag", "%v", args)
		assert.NotContains(t, out.String(), "standalone shell", "%v", args)
	}
	o, err := parseFlags([]string{"--socket", "/s", "--timeout", "2", "--bogus"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, []string{"--bogus"}, o.unknown)
}

// TestManagerThatNeverAnswersFails: a socket that accepts and never answers
// is a failed start (exit 1, a clear message), not "went away" and exit 0.
func TestManagerThatNeverAnswersFails(t *testing.T) {
	sock := testpipe.Path(t.TempDir()) // a named pipe on Windows, as osquery serves there
	l, err := testpipe.Listen(sock)
	require.NoError(t, err)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, never answer
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan int, 1)
	var errOut bytes.Buffer
	go func() {
		done <- run([]string{"--socket", sock, "--timeout", "1", "--interval", "1"}, strings.NewReader(""), &bytes.Buffer{}, &errOut)
	}()
	select {
	case code := <-done:
		assert.Equal(t, 1, code)
		assert.Regexp(t, "never answered registration|registering with the extension manager .* failed", errOut.String())
	case <-ctx.Done():
		t.Fatal("the extension did not give up")
	}
}

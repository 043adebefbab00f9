// Command testsummary reads `go test -json` on stdin and prints what a
// plain `go test` run prints (package results, the output of failed tests,
// build errors), then a summary of every skipped test with its reason, so
// that a skip cannot hide in a passing run. It exits 1 when a test or
// package failed. `make test` pipes into it.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

type skip struct{ name, reason string }

func main() {
	failed, skips, err := summarise(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	report(os.Stdout, skips)
	if failed {
		os.Exit(1)
	}
}

func summarise(in io.Reader, out io.Writer) (failed bool, skips []skip, err error) {
	pending := map[string][]string{} // package/test -> its output so far
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if json.Unmarshal(line, &ev) != nil || ev.Action == "" {
			fmt.Fprintln(out, string(line)) // not JSON: a build error, say
			continue
		}
		key := ev.Package + " " + ev.Test
		switch ev.Action {
		case "output":
			if ev.Test == "" {
				if !strings.HasPrefix(ev.Output, "=== ") && ev.Output != "PASS\n" {
					fmt.Fprint(out, ev.Output)
				}
				continue
			}
			pending[key] = append(pending[key], ev.Output)
		case "fail":
			if ev.Test == "" {
				failed = true
				continue
			}
			failed = true
			fmt.Fprint(out, strings.Join(pending[key], ""))
			delete(pending, key)
		case "skip":
			if ev.Test != "" {
				skips = append(skips, skip{ev.Package + " " + ev.Test, reason(pending[key])})
			}
			delete(pending, key)
		case "pass":
			delete(pending, key)
		}
	}
	return failed, skips, sc.Err()
}

// reason is the skip message of a test's output: the lines after the
// "=== RUN" and before "--- SKIP", trimmed.
func reason(lines []string) string {
	var r []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- ") {
			continue
		}
		r = append(r, t)
	}
	if len(r) == 0 {
		return "(no reason given)"
	}
	return strings.Join(r, " / ")
}

func report(out io.Writer, skips []skip) {
	if len(skips) == 0 {
		fmt.Fprintln(out, "\nskipped tests: none")
		return
	}
	sort.Slice(skips, func(i, j int) bool { return skips[i].name < skips[j].name })
	fmt.Fprintf(out, "\nskipped tests: %d\n", len(skips))
	for _, s := range skips {
		fmt.Fprintf(out, "  SKIP %s: %s\n", s.name, s.reason)
	}
}

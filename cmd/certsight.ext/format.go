package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// outputFormat prints one result set.
type outputFormat func(w io.Writer, cols []string, rows [][]string) error

// formatter starts one result set: its encoder takes the rows as they come.
type formatter func(cols []string) rowEncoder

// rowEncoder formats one result set. Nothing is written before flush, so a
// query that fails half-way prints nothing, as before; JSON and CSV are
// encoded row by row, so a large result is held once, as its output, not as
// rows and then again as text.
type rowEncoder interface {
	add(row []string)
	flush(w io.Writer) error
}

var (
	prettyFormat formatter = whole(formatPretty)
	jsonFormat   formatter = func(cols []string) rowEncoder { return &jsonEncoder{cols: cols} }
	csvFormat    formatter = func(cols []string) rowEncoder { return newCSVEncoder(cols) }
)

func formatByName(name string) (formatter, error) {
	switch name {
	case "pretty", "table":
		return prettyFormat, nil
	case "json":
		return jsonFormat, nil
	case "csv":
		return csvFormat, nil
	}
	return nil, fmt.Errorf("%w %q (pretty, json, csv)", errUnknownFormat, name)
}

// whole adapts a format that needs every row first (pretty: column widths).
func whole(f outputFormat) formatter {
	return func(cols []string) rowEncoder { return &rowsEncoder{f: f, cols: cols} }
}

type rowsEncoder struct {
	f    outputFormat
	cols []string
	rows [][]string
}

func (e *rowsEncoder) add(row []string)        { e.rows = append(e.rows, row) }
func (e *rowsEncoder) flush(w io.Writer) error { return e.f(w, e.cols, e.rows) }

// formatPretty draws the table osqueryi draws. Control characters are
// escaped (\x1b, \n, ...): a certificate name is attacker-chosen, and ESC
// or NUL printed raw would drive the admin's terminal.
func formatPretty(w io.Writer, cols []string, rows [][]string) error {
	if len(rows) == 0 {
		return nil // osqueryi prints nothing for an empty result
	}
	cols = escapeAll(cols)
	safe := make([][]string, len(rows))
	for i, r := range rows {
		safe[i] = escapeAll(r)
	}
	rows = safe
	width := make([]int, len(cols))
	for i, c := range cols {
		width[i] = utf8.RuneCountInString(c)
	}
	for _, r := range rows {
		for i, v := range r {
			width[i] = max(width[i], utf8.RuneCountInString(v))
		}
	}
	var b strings.Builder
	line := func() {
		b.WriteString("+")
		for _, n := range width {
			b.WriteString(strings.Repeat("-", n+2))
			b.WriteString("+")
		}
		b.WriteString("\n")
	}
	cells := func(vals []string) {
		b.WriteString("|")
		for i, v := range vals {
			b.WriteString(" ")
			b.WriteString(v)
			b.WriteString(strings.Repeat(" ", width[i]-utf8.RuneCountInString(v)+1))
			b.WriteString("|")
		}
		b.WriteString("\n")
	}
	line()
	cells(cols)
	line()
	for _, r := range rows {
		cells(r)
	}
	line()
	_, err := io.WriteString(w, b.String())
	return err
}

// formatJSON prints one array of objects, keys in column order and every
// value a string, as `osqueryi --json` does.
func formatJSON(w io.Writer, cols []string, rows [][]string) error {
	return encodeAll(jsonFormat, w, cols, rows)
}

// formatCSV prints RFC 4180 CSV with a header line.
func formatCSV(w io.Writer, cols []string, rows [][]string) error {
	return encodeAll(csvFormat, w, cols, rows)
}

func encodeAll(f formatter, w io.Writer, cols []string, rows [][]string) error {
	e := f(cols)
	for _, r := range rows {
		e.add(r)
	}
	return e.flush(w)
}

type jsonEncoder struct {
	cols []string
	b    strings.Builder
	n    int
}

func (e *jsonEncoder) add(r []string) {
	if e.n == 0 {
		e.b.WriteString("[\n")
	} else {
		e.b.WriteString(",\n")
	}
	e.n++
	e.b.WriteString("  {")
	for i, c := range e.cols {
		if i > 0 {
			e.b.WriteString(",")
		}
		writeJSONString(&e.b, c)
		e.b.WriteString(":")
		writeJSONString(&e.b, r[i])
	}
	e.b.WriteString("}")
}

func (e *jsonEncoder) flush(w io.Writer) error {
	if e.n == 0 {
		e.b.WriteString("[\n")
	} else {
		e.b.WriteString("\n")
	}
	e.b.WriteString("]\n")
	_, err := io.WriteString(w, e.b.String())
	return err
}

// csvEncoder writes RFC 4180 CSV: records end in CRLF (what spreadsheets
// and CSV readers expect), fields holding a comma, quote, CR, LF or leading
// space are quoted with quotes doubled, and a line break inside a field is
// kept as it is (encoding/csv's UseCRLF would turn LF into CRLF there).
type csvEncoder struct {
	buf bytes.Buffer
}

func newCSVEncoder(cols []string) *csvEncoder {
	e := &csvEncoder{}
	e.add(cols)
	return e
}

func (e *csvEncoder) add(r []string) {
	for i, f := range r {
		if i > 0 {
			e.buf.WriteByte(',')
		}
		if f == "" || !(strings.ContainsAny(f, ",\"\r\n") || f[0] == ' ' || f[0] == '\t') {
			e.buf.WriteString(f)
			continue
		}
		e.buf.WriteByte('"')
		e.buf.WriteString(strings.ReplaceAll(f, `"`, `""`))
		e.buf.WriteByte('"')
	}
	e.buf.WriteString("\r\n")
}

func (e *csvEncoder) flush(w io.Writer) error {
	_, err := w.Write(e.buf.Bytes())
	return err
}

// writeJSONString writes s as a JSON string without HTML escaping (osqueryi
// prints `<` as it is).
func writeJSONString(b *strings.Builder, s string) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	b.Write(bytes.TrimRight(buf.Bytes(), "\n"))
}

// escapeControl writes control characters (C0, DEL, C1) and invalid UTF-8
// as Go-style escapes; everything printable is left alone.
func escapeControl(s string) string {
	clean := true
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x80 && r < 0xa0:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func escapeAll(vals []string) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = escapeControl(v)
	}
	return out
}

package main

import (
	"bytes"
	"encoding/csv"
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

// formatPretty draws the table osqueryi draws.
func formatPretty(w io.Writer, cols []string, rows [][]string) error {
	if len(rows) == 0 {
		return nil // osqueryi prints nothing for an empty result
	}
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

type csvEncoder struct {
	buf bytes.Buffer
	cw  *csv.Writer
}

func newCSVEncoder(cols []string) *csvEncoder {
	e := &csvEncoder{}
	e.cw = csv.NewWriter(&e.buf)
	e.add(cols)
	return e
}

// add cannot fail: the csv.Writer writes to memory.
func (e *csvEncoder) add(r []string) { _ = e.cw.Write(r) }

func (e *csvEncoder) flush(w io.Writer) error {
	e.cw.Flush()
	if err := e.cw.Error(); err != nil {
		return err
	}
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

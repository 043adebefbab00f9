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

func formatByName(name string) (outputFormat, error) {
	switch name {
	case "pretty", "table":
		return formatPretty, nil
	case "json":
		return formatJSON, nil
	case "csv":
		return formatCSV, nil
	}
	return nil, fmt.Errorf("%w %q (pretty, json, csv)", errUnknownFormat, name)
}

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
	var b strings.Builder
	b.WriteString("[\n")
	for ri, r := range rows {
		b.WriteString("  {")
		for i, c := range cols {
			if i > 0 {
				b.WriteString(",")
			}
			writeJSONString(&b, c)
			b.WriteString(":")
			writeJSONString(&b, r[i])
		}
		b.WriteString("}")
		if ri < len(rows)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("]\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// formatCSV prints RFC 4180 CSV with a header line.
func formatCSV(w io.Writer, cols []string, rows [][]string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(cols); err != nil {
		return err
	}
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
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

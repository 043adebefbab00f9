// Command report turns the latest benchmark results into docs/benchmarks.md
// and its plots (SVG, drawn with gonum.org/v1/plot). It reads, from -data:
//
//	edge.json     make bench-edge: the proxies' req/s, CPU per request, latency
//	nss.jsonl     make bench-nss: NSS database scan against certutil -L
//	gobench.txt   make bench-go: go test -bench output (middleware, rules,
//	              extension start)
//	notes.md      hand-written notes, included as they are
//
// A missing input leaves its section saying how to produce it.
//
//	go run ./tests/bench/report -data docs/benchmarks/data -out docs
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/certsight/certsight/tests/bench/internal/edgeresult"
)

func main() {
	data := flag.String("data", "docs/benchmarks/data", "directory with the results")
	out := flag.String("out", "docs", "directory for benchmarks.md; plots go to OUT/benchmarks/")
	format := flag.String("format", "svg", "plot format: svg or png")
	flag.Parse()
	if *format != "svg" && *format != "png" {
		fmt.Fprintln(os.Stderr, "report: -format: want svg or png")
		os.Exit(2)
	}
	if err := run(*data, *out, "."+*format); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(dataDir, outDir, ext string) error {
	plotDir := filepath.Join(outDir, "benchmarks")
	if err := os.MkdirAll(plotDir, 0o755); err != nil {
		return err
	}
	var md bytes.Buffer
	r := &reporter{w: &md, plotDir: plotDir, relPlots: "benchmarks", ext: ext}
	r.header()

	edge, err := readEdge(filepath.Join(dataDir, "edge.json"))
	if err != nil {
		return err
	}
	if err := r.edge(edge); err != nil {
		return err
	}
	gob, err := readGoBench(filepath.Join(dataDir, "gobench.txt"))
	if err != nil {
		return err
	}
	if err := r.middleware(gob); err != nil {
		return err
	}
	nss, err := readNSS(filepath.Join(dataDir, "nss.jsonl"))
	if err != nil {
		return err
	}
	if err := r.nss(nss); err != nil {
		return err
	}
	r.extensionStart(gob)
	// Hand-written notes (what was tried on the edge and what it did) go
	// in verbatim.
	if notes, err := os.ReadFile(filepath.Join(dataDir, "notes.md")); err == nil {
		md.Write(notes)
		md.WriteString("\n")
	} else if !os.IsNotExist(err) {
		return err
	}
	r.reproduce()
	return os.WriteFile(filepath.Join(outDir, "benchmarks.md"), md.Bytes(), 0o644)
}

// --- inputs -----------------------------------------------------------------

func readEdge(path string) (*edgeresult.Document, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var d edgeresult.Document
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &d, nil
}

type nssRow struct {
	Certs   int     `json:"certs"`
	Program string  `json:"program"`
	Wall    float64 `json:"wall_s"`
	CPU     float64 `json:"cpu_s"`
	RSSKB   float64 `json:"rss_kb"`
	CPUs    int     `json:"cpus"`
	Load    string  `json:"loadavg"`
}

func readNSS(path string) ([]nssRow, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows []nssRow
	dec := json.NewDecoder(f)
	for {
		var r nssRow
		if err := dec.Decode(&r); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// goBench is one benchmark's results over -count runs: unit → values.
type goBench struct {
	Name    string
	Pkg     string
	Metrics map[string][]float64
}

func (b *goBench) median(unit string) (float64, bool) {
	v := b.Metrics[unit]
	return edgeresult.Median(v), len(v) > 0
}

type goBenchFile struct {
	Benches []*goBench
	Header  []string // goos, goarch, cpu lines
}

func (f *goBenchFile) find(name string) *goBench {
	if f == nil {
		return nil
	}
	for _, b := range f.Benches {
		if b.Name == name {
			return b
		}
	}
	return nil
}

// readGoBench parses `go test -bench` output: "BenchmarkName-N  iters
// value unit value unit…", "pkg:" lines name the package.
func readGoBench(path string) (*goBenchFile, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	f := &goBenchFile{}
	index := map[string]*goBench{}
	pkg := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = p
			continue
		}
		if strings.HasPrefix(line, "goos:") || strings.HasPrefix(line, "goarch:") || strings.HasPrefix(line, "cpu:") {
			if !slices.Contains(f.Header, line) {
				f.Header = append(f.Header, line)
			}
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		name := fields[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		b := index[pkg+" "+name]
		if b == nil {
			b = &goBench{Name: name, Pkg: pkg, Metrics: map[string][]float64{}}
			index[pkg+" "+name] = b
			f.Benches = append(f.Benches, b)
		}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			b.Metrics[fields[i+1]] = append(b.Metrics[fields[i+1]], v)
		}
	}
	return f, sc.Err()
}

// --- formatting helpers -----------------------------------------------------

func fmtNum(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

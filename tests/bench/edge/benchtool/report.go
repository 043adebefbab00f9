package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/certsight/certsight/tests/bench/internal/edgeresult"
)

// meta prints the machine description and the run's settings as JSON, at
// the start of a run.
func meta(args []string) error {
	fs := flag.NewFlagSet("meta", flag.ExitOnError)
	var settings, versions kvFlag
	fs.Var(&settings, "set", "name=value of a setting (repeatable)")
	fs.Var(&versions, "version", "program=version (repeatable)")
	fs.Parse(args)
	d := edgeresult.Document{Machine: describeMachine(), Settings: settings.m, Versions: versions.m}
	d.Machine.LoadStart = readTrim("/proc/loadavg")
	return json.NewEncoder(os.Stdout).Encode(d)
}

type kvFlag struct{ m map[string]string }

func (k *kvFlag) String() string { return fmt.Sprint(k.m) }
func (k *kvFlag) Set(s string) error {
	name, val, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("%q: want name=value", s)
	}
	if k.m == nil {
		k.m = map[string]string{}
	}
	k.m[name] = val
	return nil
}

func describeMachine() edgeresult.Machine {
	m := edgeresult.Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Kernel: readTrim("/proc/sys/kernel/osrelease")}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(string(data), "MemTotal: %d kB", &kb)
		m.MemoryMB = kb / 1024
	}
	return m
}

func readTrim(path string) string {
	data, _ := os.ReadFile(path)
	return strings.TrimSpace(string(data))
}

// report reads load's JSON lines on stdin and the meta document (-meta),
// pools the rounds per proxy, writes the Document to -out and prints a table.
func report(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	base := fs.String("base", "haproxy", "the proxy ratios are relative to")
	metaFile := fs.String("meta", "", "meta's output")
	out := fs.String("out", "", "write the JSON document here")
	fs.Parse(args)
	var d edgeresult.Document
	if *metaFile != "" {
		data, err := os.ReadFile(*metaFile)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(data, &d); err != nil {
			return fmt.Errorf("reading %s: %w", *metaFile, err)
		}
	} else {
		d.Machine = describeMachine()
	}
	d.Machine.LoadEnd = readTrim("/proc/loadavg")
	d.Generated = time.Now().UTC().Format(time.RFC3339)
	d.Baseline = *base
	dec := json.NewDecoder(os.Stdin)
	for {
		var s edgeresult.Sample
		if err := dec.Decode(&s); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("reading results: %w", err)
		}
		d.Samples = append(d.Samples, s)
	}
	summarize(&d)
	if *out != "" {
		data, err := json.MarshalIndent(d, "", " ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*out, append(data, '\n'), 0o644); err != nil {
			return err
		}
	}
	printTable(os.Stdout, &d)
	return nil
}

func summarize(d *edgeresult.Document) {
	index := map[string]int{}
	baseCPU := map[int]float64{} // round → baseline µs/request
	var busy, other, capacity float64
	for _, s := range d.Samples {
		if s.Name == d.Baseline {
			baseCPU[s.Round] = s.CPUPerReq
		}
		busy += s.MachineCPU
		other += s.MachineCPU - s.ProxyCPU - s.OriginCPU - s.ClientCPU
		capacity += s.Seconds * float64(max(d.Machine.CPUs, 1))
	}
	if capacity > 0 {
		d.Machine.BusyShare = busy / capacity
		d.Machine.OtherShare = max(other, 0) / capacity
	}
	var cpu, sys []float64
	var secs []float64
	for _, s := range d.Samples {
		i, seen := index[s.Name]
		if !seen {
			i = len(d.Summary)
			index[s.Name] = i
			d.Summary = append(d.Summary, edgeresult.Summary{Name: s.Name, CPUPerReqMin: s.CPUPerReq, CPUPerReqMax: s.CPUPerReq})
			cpu = append(cpu, 0)
			sys = append(sys, 0)
			secs = append(secs, 0)
		}
		sm := &d.Summary[i]
		sm.Rounds++
		sm.Requests += s.Requests
		sm.Errors += s.Errors
		cpu[i] += s.ProxyCPU
		sys[i] += s.ProxySysCPU
		secs[i] += s.Seconds
		sm.CPUPerReqMin = min(sm.CPUPerReqMin, s.CPUPerReq)
		sm.CPUPerReqMax = max(sm.CPUPerReqMax, s.CPUPerReq)
		sm.Hist.Merge(&s.Hist)
		if b := baseCPU[s.Round]; b > 0 {
			sm.CPURatioRounds = append(sm.CPURatioRounds, s.CPUPerReq/b)
		}
	}
	for i := range d.Summary {
		sm := &d.Summary[i]
		if secs[i] > 0 {
			sm.RPS = float64(sm.Requests) / secs[i]
		}
		if sm.Requests > 0 {
			sm.CPUPerReq = cpu[i] / float64(sm.Requests) * 1e6
			sm.SysPerReq = sys[i] / float64(sm.Requests) * 1e6
		}
		sm.CPURatioMedian = edgeresult.Median(sm.CPURatioRounds)
		sm.P50, sm.P90, sm.P99, sm.P999 = sm.Hist.Quantile(0.5), sm.Hist.Quantile(0.9), sm.Hist.Quantile(0.99), sm.Hist.Quantile(0.999)
	}
	if bi, ok := index[d.Baseline]; ok {
		b := d.Summary[bi]
		for i := range d.Summary {
			if b.CPUPerReq > 0 {
				d.Summary[i].CPURatio = d.Summary[i].CPUPerReq / b.CPUPerReq
			}
			if b.RPS > 0 {
				d.Summary[i].RPSRatio = d.Summary[i].RPS / b.RPS
			}
		}
	}
}

func printTable(w io.Writer, d *edgeresult.Document) {
	fmt.Fprintf(w, "machine: %d CPUs (%s), busy %.0f%% during the rounds, %.0f%% of it other work; load %s -> %s\n",
		d.Machine.CPUs, d.Machine.CPUModel, 100*d.Machine.BusyShare, 100*d.Machine.OtherShare, d.Machine.LoadStart, d.Machine.LoadEnd)
	fmt.Fprintf(w, "%-26s %8s %6s %9s %9s %11s %9s %9s %9s %s\n", "proxy", "req/s", "errors", "CPU µs/req", "kernel µs", "CPU×"+d.Baseline, "req/s×", "p50 ms", "p99 ms", "CPU× by round")
	for _, s := range d.Summary {
		rounds := make([]string, len(s.CPURatioRounds))
		for i, r := range s.CPURatioRounds {
			rounds[i] = fmt.Sprintf("%.2f", r)
		}
		fmt.Fprintf(w, "%-26s %8.0f %6d %10.1f %9.1f %11.2f %9.2f %9.2f %9.2f %s\n", s.Name, s.RPS, s.Errors, s.CPUPerReq,
			s.SysPerReq, s.CPURatio, s.RPSRatio, s.P50/1e3, s.P99/1e3, strings.Join(rounds, " "))
	}
}

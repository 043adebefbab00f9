// Package edgeresult is the schema of the edge benchmark's result file
// (docs/benchmarks/data/edge.json): the benchtool writes it, the report
// generator reads it, and both take the types from here so the two cannot
// drift apart.
package edgeresult

import (
	"math"
	"slices"
	"time"
)

// Document is the benchmark's result file (docs/benchmarks/data/edge.json),
// which the report generator reads.
type Document struct {
	Generated string            `json:"generated"`
	Machine   Machine           `json:"machine"`
	Settings  map[string]string `json:"settings"`
	Versions  map[string]string `json:"versions"`
	Baseline  string            `json:"baseline"`
	Summary   []Summary         `json:"summary"`
	Samples   []Sample          `json:"samples"`
}

// Machine says where the numbers come from and how busy it was.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	Kernel    string `json:"kernel"`
	MemoryMB  int64  `json:"memory_mb"`
	GoVersion string `json:"go_version"`
	LoadStart string `json:"loadavg_start"`
	LoadEnd   string `json:"loadavg_end"`
	// BusyShare is the machine's busy CPU time over the measured windows
	// divided by their CPU capacity (1 = every core busy all the time);
	// OtherShare the part of it used by neither the proxies, the origin nor
	// the load generator (other people's work).
	BusyShare  float64 `json:"busy_share"`
	OtherShare float64 `json:"other_share"`
}

// Summary pools one proxy's rounds.
type Summary struct {
	Name     string  `json:"name"`
	Rounds   int     `json:"rounds"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	RPS      float64 `json:"rps"` // all requests over all measured seconds
	// CPUPerReq is all the proxy's CPU over all its requests (µs);
	// CPURatio that divided by the baseline's, and CPURatioRounds the same
	// ratio round by round (each against the baseline of the same round).
	CPUPerReq    float64 `json:"cpu_us_per_req"`
	CPUPerReqMin float64 `json:"cpu_us_per_req_min"`
	CPUPerReqMax float64 `json:"cpu_us_per_req_max"`
	CPURatio     float64 `json:"cpu_ratio"`
	// SysPerReq is the kernel's share of CPUPerReq (µs).
	SysPerReq      float64   `json:"sys_us_per_req"`
	CPURatioRounds []float64 `json:"cpu_ratio_rounds"`
	CPURatioMedian float64   `json:"cpu_ratio_median"`
	RPSRatio       float64   `json:"rps_ratio"`
	P50            float64   `json:"p50_us"`
	P90            float64   `json:"p90_us"`
	P99            float64   `json:"p99_us"`
	P999           float64   `json:"p999_us"`
	Hist           Histogram `json:"latency_hist"`
}

// Sample is one measured round of one proxy: load's output, one JSON line.
type Sample struct {
	Name     string  `json:"name"`
	Round    int     `json:"round"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"rps"`
	// CPU seconds (user + system) over the measured window: the proxy's
	// processes (with their children, e.g. nginx workers), the origin, this
	// load generator, and the whole machine's busy time (every process,
	// other people's builds included).
	ProxyCPU float64 `json:"proxy_cpu_s"`
	// ProxySysCPU is the part of ProxyCPU spent in the kernel (system
	// time): what is left is the proxy's own user-space work.
	ProxySysCPU float64 `json:"proxy_sys_cpu_s"`
	OriginCPU   float64 `json:"origin_cpu_s"`
	ClientCPU   float64 `json:"client_cpu_s"`
	MachineCPU  float64 `json:"machine_cpu_s"`
	// CPUPerReq is ProxyCPU / Requests in microseconds.
	CPUPerReq float64 `json:"cpu_us_per_req"`
	// Latency: percentiles in microseconds and the histogram they come from.
	P50  float64   `json:"p50_us"`
	P90  float64   `json:"p90_us"`
	P99  float64   `json:"p99_us"`
	P999 float64   `json:"p999_us"`
	Hist Histogram `json:"latency_hist"`
	// Load1 is the one-minute load average when the round started.
	Load1 float64 `json:"load1"`
}

// histGrowth is the ratio between neighbouring latency buckets: 4 %
// resolution over microseconds to seconds in about 400 buckets.
const histGrowth = 1.04

// Histogram counts latencies in logarithmic buckets; bucket i holds
// [histGrowth^i, histGrowth^(i+1)) microseconds. The JSON form keeps only
// non-empty buckets, so rounds can be merged later.
type Histogram struct {
	Counts map[int]int64 `json:"counts"`
	Total  int64         `json:"total"`
}

func bucketOf(us float64) int {
	if us < 1 {
		return 0
	}
	return int(math.Log(us) / math.Log(histGrowth))
}

// BucketMid is the geometric middle of bucket i, in microseconds.
func BucketMid(i int) float64 { return math.Pow(histGrowth, float64(i)+0.5) }

// Add counts one latency.
func (h *Histogram) Add(d time.Duration) {
	if h.Counts == nil {
		h.Counts = map[int]int64{}
	}
	h.Counts[bucketOf(float64(d.Nanoseconds())/1e3)]++
	h.Total++
}

// Merge adds o's counts.
func (h *Histogram) Merge(o *Histogram) {
	if h.Counts == nil {
		h.Counts = map[int]int64{}
	}
	for i, n := range o.Counts {
		h.Counts[i] += n
	}
	h.Total += o.Total
}

// Quantile returns the q-quantile (0 < q <= 1) in microseconds, 0 when empty.
func (h *Histogram) Quantile(q float64) float64 {
	if h.Total == 0 {
		return 0
	}
	idx := make([]int, 0, len(h.Counts))
	for i := range h.Counts {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	want := int64(math.Ceil(q * float64(h.Total)))
	var seen int64
	for _, i := range idx {
		seen += h.Counts[i]
		if seen >= want {
			return BucketMid(i)
		}
	}
	return BucketMid(idx[len(idx)-1])
}

// Median of xs: the upper one for an even count, 0 when empty. The
// benchtool's summary (CPURatioMedian) and the report use the same one.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

package main

import (
	"math"
	"slices"
	"time"
)

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

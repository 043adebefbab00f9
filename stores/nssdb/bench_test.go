package nssdb

import (
	"context"
	"testing"

	"github.com/certsight/certsight/internal/testnss"
	"github.com/certsight/certsight/stores"
)

// benchmarkRead scans a database of n synthetic certificates (mixed RSA and
// EC, a third with keys, trust cycling through common strings) with every
// derived fact, key presence and trust: whole (Collect) or streamed (range over Read,
// each entry dropped once counted, as client_certificates does).
func benchmarkRead(b *testing.B, n int, each bool) {
	certs, err := testnss.Synthetic(n - 1) // plus the root CA
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := testnss.Create(context.Background(), dir, certs, testnss.Options{}); err != nil {
		b.Fatal(err)
	}
	r := New(nil)
	src := stores.Source{Path: dir, Location: stores.LocationPath}
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		var res stores.Result
		if each {
			count := 0
			for _, err := range r.Read(context.Background(), src) {
				if err != nil {
					res.Errors = append(res.Errors, err)
					continue
				}
				count++
			}
			if len(res.Errors) != 0 || count != n {
				b.Fatalf("read %d entries, errors %v", count, res.Errors)
			}
			continue
		}
		res = stores.Collect(r.Read(context.Background(), src))
		if len(res.Errors) != 0 || len(res.Entries) != n {
			b.Fatalf("read %d entries, errors %v", len(res.Entries), res.Errors)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/cert")
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func BenchmarkRead1000(b *testing.B)      { benchmarkRead(b, 1000, false) }
func BenchmarkRead10000(b *testing.B)     { benchmarkRead(b, 10000, false) }
func BenchmarkReadEach10000(b *testing.B) { benchmarkRead(b, 10000, true) }

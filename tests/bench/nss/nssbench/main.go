// Command nssbench builds and reads NSS databases for tests/bench/nss/run.sh.
//
//	nssbench make -n N DIR   write a database of N synthetic certificates
//	nssbench read DIR        read it whole (Read, as posture does); print counts and timing
//	nssbench each DIR        read it streamed (range over Read, as client_certificates does)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/certsight/certsight/internal/testnss"
	"github.com/certsight/certsight/stores"
	"github.com/certsight/certsight/stores/nssdb"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "nssbench:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: nssbench make -n N DIR | nssbench read DIR | nssbench each DIR")
	}
	ctx := context.Background()
	switch args[0] {
	case "make":
		fs := flag.NewFlagSet("make", flag.ContinueOnError)
		n := fs.Int("n", 1000, "number of certificates, root CA included")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 || *n < 1 {
			return fmt.Errorf("usage: nssbench make -n N DIR")
		}
		certs, err := testnss.Synthetic(*n - 1)
		if err != nil {
			return err
		}
		return testnss.Create(ctx, fs.Arg(0), certs, testnss.Options{})
	case "read", "each":
		if len(args) != 2 {
			return fmt.Errorf("usage: nssbench %s DIR", args[0])
		}
		var res stores.Result
		n, keys, trusted := 0, 0, 0
		count := func(e stores.Entry) error {
			n++
			if e.Key.HasPrivateKey() {
				keys++
			}
			if e.Trust != ",," {
				trusted++
			}
			return nil
		}
		start := time.Now()
		src := stores.Source{Path: args[1], Location: stores.LocationPath}
		if args[0] == "each" {
			for e, err := range nssdb.New(nil).Read(ctx, src) {
				if err != nil {
					res.Errors = append(res.Errors, err)
					continue
				}
				_ = count(e)
			}
		} else {
			res = stores.Collect(nssdb.New(nil).Read(ctx, src))
		}
		elapsed := time.Since(start)
		for _, e := range res.Entries {
			_ = count(e)
		}
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms) // read: the entries are still live here; each: none are
		fmt.Printf("certificates=%d with_key=%d trust_not_empty=%d errors=%d read_seconds=%.3f live_heap_MB=%.1f total_alloc_MB=%.1f\n",
			n, keys, trusted, len(res.Errors), elapsed.Seconds(),
			float64(ms.HeapAlloc)/(1<<20), float64(ms.TotalAlloc)/(1<<20))
		runtime.KeepAlive(res)
		if len(res.Errors) > 0 {
			return fmt.Errorf("first error: %w", res.Errors[0])
		}
		return nil
	}
	return fmt.Errorf("unknown command %q", args[0])
}

// Package tick is the one fixed-interval loop of certsight's background
// work (the edge's connection sweep, CRL file polling, reloads), so that
// each of them states only what it does on a tick, not how it waits.
package tick

import (
	"context"
	"time"
)

// DefaultInterval is used for a non-positive interval: a zero flag value
// must not become a busy loop (time.NewTicker panics on it anyway).
const DefaultInterval = time.Second

// Every calls fn with the tick's time every interval until ctx ends, and
// returns then. The first call comes one interval after the start, never
// at once: callers have done their initial work (a strict first load)
// before starting the loop. fn runs on the caller's goroutine, so a slow
// fn delays the next tick instead of overlapping it.
func Every(ctx context.Context, interval time.Duration, fn func(now time.Time)) {
	if interval <= 0 {
		interval = DefaultInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			// A tick and the end can be ready together; select picks at
			// random, and work after the end is work nobody waits for.
			if ctx.Err() != nil {
				return
			}
			fn(now)
		}
	}
}

package crlfetch

import (
	"math/rand/v2"
	"time"
)

// refreshDelay is how long to wait before asking for a newer CRL than one
// valid until next: halfway to next, at most max, minus up to a fifth as
// jitter (so a fleet of edges restarted together does not hit the
// distribution point in step), and at least a second.
func refreshDelay(now, next time.Time, max time.Duration) time.Duration {
	d := next.Sub(now) / 2
	if d > max {
		d = max
	}
	d -= jitter(d)
	return clampLow(d)
}

// retryDelay is the wait after the n-th failure in a row (n ≥ 1): min
// doubled per failure up to max, minus up to a fifth as jitter.
func retryDelay(n int, min, max time.Duration) time.Duration {
	d := min
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	d -= jitter(d)
	return clampLow(d)
}

func jitter(d time.Duration) time.Duration {
	if d < 5 {
		return 0
	}
	return rand.N(d / 5)
}

func clampLow(d time.Duration) time.Duration {
	if d < time.Second {
		return time.Second
	}
	return d
}

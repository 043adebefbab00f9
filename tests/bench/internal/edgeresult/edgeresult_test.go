package edgeresult

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHistogramQuantile(t *testing.T) {
	var h Histogram
	for i := 1; i <= 1000; i++ {
		h.Add(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q, want float64
	}{{0.5, 500}, {0.9, 900}, {0.99, 990}} {
		require.InEpsilon(t, tc.want, h.Quantile(tc.q), 0.04, "q=%v", tc.q)
	}
	var empty Histogram
	require.Zero(t, empty.Quantile(0.5))
}

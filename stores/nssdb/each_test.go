package nssdb

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testnss"
	"github.com/certsight/certsight/stores"
)

// TestReadAcrossBatches reads a database of several batches: every
// certificate once, in row order, and nothing after the consumer stops.
func TestReadAcrossBatches(t *testing.T) {
	const n = 2*batchSize + 89
	certs, err := testnss.Synthetic(n - 1)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, testnss.Create(context.Background(), dir, certs, testnss.Options{}))
	r := New(nil)
	src := stores.Source{Path: dir, Location: stores.LocationPath}

	var labels []string
	res := stores.Collect(r.Read(context.Background(), src))
	for _, e := range res.Entries {
		labels = append(labels, e.Label)
	}
	require.Empty(t, res.Errors)
	require.Len(t, labels, n)
	for i, c := range certs {
		assert.Equal(t, c.Nickname, labels[i], "row order")
	}

	for _, stopAt := range []int{1, batchSize, batchSize + 1, n} {
		t.Run(fmt.Sprint(stopAt), func(t *testing.T) {
			calls := 0
			for _, err := range r.Read(context.Background(), src) {
				require.NoError(t, err)
				if calls++; calls == stopAt {
					break // the range statement panics if the reader yields again
				}
			}
			assert.Equal(t, stopAt, calls)
		})
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	var errs []error
	for _, err := range r.Read(ctx, src) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if calls++; calls == batchSize+3 {
			cancel()
		}
	}
	assert.Less(t, calls, n, "reading stops at the batch after the deadline")
	require.NotEmpty(t, errs)
	assert.ErrorIs(t, errs[len(errs)-1], context.Canceled)
}

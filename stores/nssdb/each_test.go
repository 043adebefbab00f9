package nssdb

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testnss"
	"github.com/certsight/certsight/stores"
)

// TestReadEachAcrossBatches reads a database of several batches: every
// certificate once, in row order, and nothing after fn fails.
func TestReadEachAcrossBatches(t *testing.T) {
	const n = 2*batchSize + 89
	certs, err := testnss.Synthetic(n - 1)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, testnss.Create(context.Background(), dir, certs, testnss.Options{}))
	r := New(nil)
	src := stores.Source{Path: dir, Location: stores.LocationPath}

	var labels []string
	errs := r.ReadEach(context.Background(), src, func(e stores.Entry) error {
		labels = append(labels, e.Label)
		return nil
	})
	require.Empty(t, errs)
	require.Len(t, labels, n)
	for i, c := range certs {
		assert.Equal(t, c.Nickname, labels[i], "row order")
	}

	errStop := errors.New("enough")
	for _, stopAt := range []int{1, batchSize, batchSize + 1, n} {
		t.Run(fmt.Sprint(stopAt), func(t *testing.T) {
			calls := 0
			errs := r.ReadEach(context.Background(), src, func(stores.Entry) error {
				calls++
				if calls == stopAt {
					return errStop
				}
				return nil
			})
			assert.Equal(t, stopAt, calls)
			require.Len(t, errs, 1)
			assert.Same(t, errStop, errs[0])
		})
	}

	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	errs = r.ReadEach(ctx, src, func(stores.Entry) error {
		if calls++; calls == batchSize+3 {
			cancel()
		}
		return nil
	})
	assert.Less(t, calls, n, "reading stops at the batch after the deadline")
	require.NotEmpty(t, errs)
	assert.ErrorIs(t, errs[len(errs)-1], context.Canceled)
}

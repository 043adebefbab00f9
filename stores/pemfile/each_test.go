package pemfile

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/stores"
)

// TestSecondReadOfAChangedFile covers a file that changes between the
// pairing pass and the entries pass: its key state is kept only for the
// certificate it was decided for, and a file gone is an error, not a panic.
func TestSecondReadOfAChangedFile(t *testing.T) {
	combined, err := os.ReadFile(fx("combined.pem")) // client1 with its key
	require.NoError(t, err)
	ca, err := os.ReadFile(fx("ca.pem"))
	require.NoError(t, err)
	src := stores.Source{Location: stores.LocationPath}
	files := []File{{Path: "/x/combined.pem", Named: true}}

	for _, tc := range []struct {
		name    string
		second  func() ([]byte, error)
		wantCN  []string
		wantKey []stores.KeyMatch
		wantErr error
	}{
		{"unchanged", func() ([]byte, error) { return combined, nil },
			[]string{"client1"}, []stores.KeyMatch{stores.KeyMatched}, nil},
		{"now another certificate", func() ([]byte, error) { return ca, nil }, // key state unknown, and said
			[]string{"Fixture CA"}, []stores.KeyMatch{stores.KeyUnknown}, errChanged},
		{"gone", func() ([]byte, error) { return nil, os.ErrNotExist },
			nil, nil, errChanged},
		{"no longer a certificate", func() ([]byte, error) { return []byte("hello"), nil },
			nil, nil, errChanged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			load := func(File) ([]byte, error) {
				if calls++; calls == 1 {
					return combined, nil
				}
				return tc.second()
			}
			res := stores.Collect(stores.Stream(func(fn func(stores.Entry) error) []error {
				return New(nil).readSet(context.Background(), src, files, load, fn)
			}))
			var cns []string
			var keys []stores.KeyMatch
			for _, e := range res.Entries {
				cns, keys = append(cns, e.Info.CommonName), append(keys, e.Key)
			}
			assert.Equal(t, tc.wantCN, cns)
			assert.Equal(t, tc.wantKey, keys)
			if tc.wantErr == nil {
				assert.Empty(t, res.Errors)
				return
			}
			require.Len(t, res.Errors, 1)
			assert.ErrorIs(t, res.Errors[0], tc.wantErr)
			var ie *stores.ItemError
			assert.True(t, errors.As(res.Errors[0], &ie))
		})
	}
}

// TestReadStopsWhenConsumerStops: nothing is handed over after the
// consumer stops (range panics if the reader yields again).
func TestReadStopsWhenConsumerStops(t *testing.T) {
	r := New(nil)
	all := stores.Collect(r.Read(context.Background(), stores.Source{Path: td, Location: stores.LocationPath}))
	require.Greater(t, len(all.Entries), 3)
	calls := 0
	for e, err := range r.Read(context.Background(), stores.Source{Path: td, Location: stores.LocationPath}) {
		if err != nil {
			continue
		}
		assert.Equal(t, all.Entries[calls].Info.SHA256, e.Info.SHA256, "same order as Collect")
		if calls++; calls == 3 {
			break
		}
	}
	assert.Equal(t, 3, calls)
}

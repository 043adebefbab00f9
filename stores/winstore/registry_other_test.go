//go:build !windows

package winstore

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/stores"
)

func TestRegistryPathOffWindows(t *testing.T) {
	r := New(nil)
	res := stores.Collect(r.Read(context.Background(), stores.Source{Path: `HKLM\` + SystemMyKey, Location: stores.LocationSystem}))
	require.Len(t, res.Errors, 1)
	assert.ErrorIs(t, res.Errors[0], errNoRegistry)
	assert.Empty(t, res.Entries)
	assert.Empty(t, r.Defaults(context.Background()))
}

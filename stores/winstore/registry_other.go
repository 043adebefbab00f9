//go:build !windows

package winstore

import (
	"context"
	"errors"

	"github.com/certsight/certsight/stores"
)

// errNoRegistry is reported for registry paths off Windows.
var errNoRegistry = errors.New("registry paths can only be read on Windows; export the Blob values or element files and read those by path")

func (r *Reader) readRegistry(_ context.Context, src stores.Source, _, _ string, yield yielder) bool {
	return yield(stores.Entry{}, r.cfg.ItemError(src.Path, "", errNoRegistry))
}

package main

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/tables"
)

// The committed docs/tables.md is what the table definitions say now: a new
// or changed column needs `make docs`.
func TestTablesDocIsCurrent(t *testing.T) {
	if runtime.GOOS != "linux" {
		// The notes name the platform's default posture config path; the
		// committed file is generated on Linux.
		t.Skipf("docs/tables.md is generated on Linux, not %s", runtime.GOOS)
	}
	committed, err := os.ReadFile(filepath.Join("..", "..", "docs", "tables.md"))
	require.NoError(t, err)
	assert.Equal(t, string(render(tables.All(tables.Deps{}))), string(committed),
		"docs/tables.md is stale: run `make docs` and commit it")
}

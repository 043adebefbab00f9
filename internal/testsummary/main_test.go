package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSummaryListsSkipsAndFailures(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:9: !!! SKIPPED: program certutil is not installed\n"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"--- SKIP: TestA (0.00s)\n"}`,
		`{"Action":"skip","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:3: boom\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestB"}`,
		`{"Action":"output","Package":"p","Test":"TestC","Output":"quiet\n"}`,
		`{"Action":"pass","Package":"p","Test":"TestC"}`,
		`{"Action":"output","Package":"p","Output":"FAIL\tp\t0.1s\n"}`,
		`{"Action":"fail","Package":"p"}`,
		`# q [build failed]`,
	}, "\n")
	var out strings.Builder
	failed, skips, err := summarise(strings.NewReader(in), &out)
	require.NoError(t, err)
	assert.True(t, failed)
	require.Len(t, skips, 1)
	assert.Equal(t, "p TestA", skips[0].name)
	assert.Equal(t, "a_test.go:9: !!! SKIPPED: program certutil is not installed", skips[0].reason)
	assert.Contains(t, out.String(), "boom", "a failed test's output is shown")
	assert.NotContains(t, out.String(), "quiet", "a passing test's output is not")
	assert.Contains(t, out.String(), "# q [build failed]")
	report(&out, skips)
	assert.Contains(t, out.String(), "skipped tests: 1\n  SKIP p TestA: a_test.go:9")
}

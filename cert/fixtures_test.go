package cert_test

import (
	"bufio"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/cert"
)

// readFixture returns the bytes of testdata/name.
func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err, "fixture %s (regenerate with sh cert/testdata/make.sh)", name)
	return data
}

// fixtureCert parses the first certificate of testdata/name.
func fixtureCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	b, err := cert.Parse(readFixture(t, name))
	require.NoError(t, err, name)
	require.NotEmpty(t, b.Certificates, name)
	return b.Certificates[0]
}

// fixtureKey parses the only key of testdata/name.
func fixtureKey(t testing.TB, name string) cert.Key {
	t.Helper()
	b, err := cert.Parse(readFixture(t, name))
	require.NoError(t, err, name)
	require.Len(t, b.Keys, 1, name)
	return b.Keys[0]
}

// expected holds what OpenSSL printed for each fixture (testdata/expected.txt,
// written by make.sh): file -> fact -> value.
type expected map[string]map[string]string

func loadExpected(t testing.TB) expected {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "expected.txt"))
	require.NoError(t, err)
	defer f.Close()
	out := expected{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, "\t", 3)
		require.Len(t, parts, 3, "expected.txt line %q", line)
		if out[parts[0]] == nil {
			out[parts[0]] = map[string]string{}
		}
		out[parts[0]][parts[1]] = parts[2]
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, out, "expected.txt is empty")
	return out
}

// fact returns one recorded fact, failing when make.sh did not record it.
func (e expected) fact(t testing.TB, file, name string) string {
	t.Helper()
	facts, ok := e[file]
	require.True(t, ok, "expected.txt has no entry for %s", file)
	v, ok := facts[name]
	require.True(t, ok, "expected.txt has no %s for %s", name, file)
	return v
}

// opensslHex turns "AB:CD:EF" into "abcdef" (or uppercase when upper).
func opensslHex(s string, upper bool) string {
	s = strings.ReplaceAll(s, ":", "")
	if upper {
		return strings.ToUpper(s)
	}
	return strings.ToLower(s)
}

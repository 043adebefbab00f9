package tables_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testpki"
	"github.com/certsight/certsight/stores/scan"
	"github.com/certsight/certsight/tables"
	"github.com/certsight/certsight/tables/vtable"
)

// TestWindowsPathsEitherSlash: Windows users write C:\… and C:/… alike; the
// real scanner reads files named either way and every row survives SQLite's
// re-check of =, IN and LIKE.
func TestWindowsPathsEitherSlash(t *testing.T) {
	ca, err := testpki.NewRoot("Slash Root CA")
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "Users", "bob", "certs")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	file, err := ca.WriteCert(dir, "ca.pem")
	require.NoError(t, err)
	require.Contains(t, file, `\`)
	fwd := filepath.ToSlash(file)
	fwdDir := filepath.ToSlash(dir)
	users := strings.TrimSuffix(fwdDir, "/bob/certs")

	db, err := vtable.Open(t.Context(), []tables.Table{tables.ClientCertificates(tables.Deps{Scanner: scan.New(nil)})})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })

	for _, tc := range []struct{ name, where, want string }{
		{"= file, backslashes", "path = '" + file + "'", file},
		{"= file, forward slashes", "path = '" + fwd + "'", fwd},
		{"= folder, forward slashes", "path = '" + fwdDir + "'", fwdDir},
		{"= folder, other case", "path = '" + strings.ToUpper(fwdDir) + "'", strings.ToUpper(fwdDir)},
		{"IN, forward slashes", "path IN ('" + fwd + "', 'C:/nowhere')", fwd},
		{"LIKE, backslashes", "path LIKE '" + filepath.FromSlash(users) + `\%\certs'`, dir},
		{"LIKE, forward slashes", "path LIKE '" + users + "/%/certs'", fwdDir},
		{"LIKE file, forward slashes", "path LIKE '" + users + "/%/certs/%.pem'", fwd},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			rows, err := db.QueryContext(t.Context(), "SELECT path FROM client_certificates WHERE "+tc.where)
			require.NoError(t, err)
			defer rows.Close()
			for rows.Next() {
				var p string
				require.NoError(t, rows.Scan(&p))
				got = append(got, p)
			}
			require.NoError(t, rows.Err())
			assert.Equal(t, []string{tc.want}, got)
		})
	}
}

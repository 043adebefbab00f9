package cert_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/cert"
	"github.com/certsight/certsight/internal/testtool"
)

// TestInfoMatchesLiveOpenSSL re-checks a few facts against the installed
// openssl, so a stale expected.txt cannot hide a regression.
func TestInfoMatchesLiveOpenSSL(t *testing.T) {
	openssl := testtool.Need(t, "openssl")
	for _, file := range []string{"leaf.pem", "names.pem"} {
		t.Run(file, func(t *testing.T) {
			out, err := exec.Command(openssl, "x509", "-in", filepath.Join("testdata", file), "-noout",
				"-serial", "-fingerprint", "-sha256", "-enddate", "-nameopt", "compat", "-subject").Output()
			require.NoError(t, err)
			got := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				k, v, _ := strings.Cut(line, "=")
				got[k] = v
			}
			info := cert.NewInfo(fixtureCert(t, file))
			assert.Equal(t, got["serial"], info.Serial)
			assert.Equal(t, opensslHex(got["sha256 Fingerprint"], false), info.SHA256)
			assert.Equal(t, got["notAfter"], cert.FormatTime(info.NotAfter))
			assert.Equal(t, got["subject"], info.SubjectLegacy)
		})
	}
}

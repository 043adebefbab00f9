package posture_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/cert"
	"github.com/certsight/certsight/internal/testposture"
	"github.com/certsight/certsight/posture"
	"github.com/certsight/certsight/posture/identity"
	"github.com/certsight/certsight/stores/scan"
)

func checkCase(t *testing.T, c testposture.Case, got posture.Result) {
	t.Helper()
	t.Logf("passed=%v reason=%q", got.Passed, got.Reason)
	assert.Equal(t, c.WantEvaluated, got.Evaluated, "evaluated; reason: %s", got.Reason)
	assert.Equal(t, c.WantPassed, got.Passed, "passed; reason: %s", got.Reason)
	if c.WantPassed {
		assert.Empty(t, got.Reason)
		assert.Equal(t, c.WantMatchedPath, got.MatchedPath)
		assert.NotEmpty(t, got.MatchedSHA256)
		assert.Equal(t, "pem", got.MatchedStore)
		return
	}
	for _, want := range c.WantReason {
		assert.Contains(t, got.Reason, want)
	}
	assert.Empty(t, got.MatchedSHA256)
}

func matrixDevices() map[string]*identity.Device {
	return map[string]*identity.Device{
		"serial known":       identity.Fixed("host-1", "SN-12345", nil),
		"serial unavailable": identity.Fixed("host-1", "", os.ErrPermission),
	}
}

// TestMatrixConfig runs every case as a rule of the generated config file,
// through the real scanner, the way cert_posture evaluates its config.
func TestMatrixConfig(t *testing.T) {
	for dname, dev := range matrixDevices() {
		t.Run(dname, func(t *testing.T) {
			f, cases := testposture.Build(t, dev)
			require.GreaterOrEqual(t, len(cases), 15)
			snap := posture.NewSource(f.ConfigFile).Load()
			require.NoError(t, snap.Err)
			require.Empty(t, snap.Policy.Problems)
			env := posture.Env{Scanner: scan.New(nil), Device: dev}
			results := snap.Evaluate(t.Context(), env)
			require.Len(t, results, len(cases))
			for i, c := range cases {
				t.Run(c.Name, func(t *testing.T) {
					require.Equal(t, c.Name, results[i].Rule)
					assert.Equal(t, f.CAID, results[i].CertificateID)
					checkCase(t, c, results[i])
				})
			}
		})
	}
}

// TestMatrixInline states every case that input columns can express as an
// ad-hoc rule.
func TestMatrixInline(t *testing.T) {
	dev := identity.Fixed("host-1", "SN-12345", nil)
	f, cases := testposture.Build(t, dev)
	env := posture.Env{Scanner: scan.New(nil), Device: dev}
	caCerts, err := cert.ParseCertificates(mustRead(t, f.CAFile))
	require.NoError(t, err)
	caID := posture.DerivedID(caCerts[0])
	n := 0
	for _, c := range cases {
		if c.Inline == nil {
			continue
		}
		n++
		t.Run(c.Name, func(t *testing.T) {
			got := posture.EvaluateCheck(t.Context(), c.Inline.Check(), env)
			assert.Equal(t, posture.InlineRuleName, got.Rule)
			checkCase(t, c, got)
			assert.Equal(t, caID, got.CertificateID, "an inline rule names its CA by the derived id")
			assert.Equal(t, posture.CurrentOS(), got.OperatingSystem, "a rule for any OS reports the one it ran on")
		})
	}
	assert.GreaterOrEqual(t, n, 15)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return data
}

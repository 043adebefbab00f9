package posture_test

import (
	"testing"

	"github.com/certsight/certsight/internal/testposture"
	"github.com/certsight/certsight/posture"
	"github.com/certsight/certsight/posture/identity"
	"github.com/certsight/certsight/stores/scan"
)

// BenchmarkMatrixConfig is one cert_posture query over the matrix config:
// re-reading the config, then every rule through the real PEM reader.
func BenchmarkMatrixConfig(b *testing.B) {
	dev := identity.Fixed("host-1", "SN-1", nil)
	f, cases := testposture.Build(b, dev)
	src := posture.NewSource(f.ConfigFile)
	env := posture.Env{Scanner: scan.New(nil), Device: dev}
	b.ReportMetric(float64(len(cases)), "rules/op")
	for b.Loop() {
		if rs := src.Load().Evaluate(b.Context(), env); len(rs) != len(cases) {
			b.Fatalf("%d results", len(rs))
		}
	}
}

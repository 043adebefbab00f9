package posture_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testpki"
	"github.com/certsight/certsight/posture"
)

func caPEMs(t *testing.T, n int) [][]byte {
	t.Helper()
	var out [][]byte
	for i := range n {
		ca, err := testpki.NewRoot(fmt.Sprintf("Concurrent CA %d", i))
		require.NoError(t, err)
		out = append(out, ca.CertPEM())
	}
	return out
}

func registered(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	cfg, err := posture.Decode(data)
	require.NoError(t, err)
	return len(cfg.MTLSCertificates)
}

// TestAddCAConcurrentWritersLoseNothing: 20 AddCA calls at once into one
// config, three times over: every one that reports success is in the file.
func TestAddCAConcurrentWritersLoseNothing(t *testing.T) {
	for round := range 3 {
		cfg := filepath.Join(t.TempDir(), "posture.json")
		pems := caPEMs(t, 20)
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for i, p := range pems {
			wg.Go(func() {
				_, _, err := posture.AddCA(cfg, p, fmt.Sprintf("ca_%d", i), time.Now())
				mu.Lock()
				defer mu.Unlock()
				if assert.NoError(t, err) {
					ok++
				}
			})
		}
		wg.Wait()
		assert.Equal(t, 20, ok, "round %d", round)
		assert.Equal(t, ok, registered(t, cfg), "round %d: every success is in the file", round)
	}
}

package extension_test

// Budgets, measured here rather than asserted by timed unit tests:
//   - process start to registered: under 50 ms
//   - peak RSS while scanning 10,000 certificates: under 40 MB
// Run: go test -run '^$' -bench . -benchtime 20x ./tests/extension (Linux: RSS is read from /proc)

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gen "github.com/osquery/osquery-go/gen/osquery"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testnss"
	"github.com/certsight/certsight/internal/testpki"
)

// BenchmarkStartToRegistered measures from exec of certsight.ext (osquery's
// argv, the manager socket already listening) to registerExtension arriving
// at the manager. osquery-go's default client polls every 200 ms before its
// first dial; certsight.ext dials at once.
func BenchmarkStartToRegistered(b *testing.B) {
	var all []time.Duration
	for i := 0; i < b.N; i++ {
		sock := socketPath(shortDir(b))
		m := startManager(b, sock)
		cmd := exec.Command(extBin, "--socket", sock, "--timeout", "3", "--interval", "3")
		start := time.Now()
		require.NoError(b, cmd.Start())
		reg := m.waitRegistered(b, 10*time.Second)
		all = append(all, reg.At.Sub(start))
		m.vanish()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	// On a shared, loaded machine the scheduler dominates the tail; the
	// minimum is what the process itself costs, the median what it costs
	// under that load.
	slices.Sort(all)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(all[0]), "ms-min")
	b.ReportMetric(ms(all[len(all)/2]), "ms-median")
	b.ReportMetric(ms(all[len(all)-1]), "ms-max")
}

var (
	bigOnce sync.Once
	bigPEM  string // a directory of 10,000 PEM files
	bigNSS  string // an NSS database of 10,000 certificates
	bigRoot string // removed by TestMain
	bigErr  error
)

const bigN = 10000

func bigStores(b *testing.B) (pemDir, nssDir string) {
	b.Helper()
	bigOnce.Do(func() {
		root, err := os.MkdirTemp("", "certsight-bench")
		if err != nil {
			bigErr = err
			return
		}
		bigRoot = root
		bigPEM, bigNSS = filepath.Join(root, "pem"), filepath.Join(root, "nssdb")
		if bigErr = os.Mkdir(bigPEM, 0o755); bigErr != nil {
			return
		}
		ca, err := testpki.NewRoot("bench CA")
		if err != nil {
			bigErr = err
			return
		}
		if bigErr = testpki.WriteMany(ca, bigPEM, "client", bigN, 1000); bigErr != nil {
			return
		}
		certs, err := testnss.Synthetic(bigN - 1) // + its CA = 10,000
		if err != nil {
			bigErr = err
			return
		}
		bigErr = testnss.Create(context.Background(), bigNSS, certs, testnss.Options{})
	})
	require.NoError(b, bigErr)
	return bigPEM, bigNSS
}

// peakRSS runs certsight.ext standalone and returns its peak RSS in MB and
// the last output line.
func peakRSS(b *testing.B, sql string) (float64, string) {
	b.Helper()
	needProc(b)
	cmd := exec.Command(extBin, "--csv", "--query", sql)
	var out strings.Builder
	cmd.Stdout = &out
	require.NoError(b, cmd.Start())
	hwm := watchHWM(cmd.Process.Pid)
	require.NoError(b, cmd.Wait())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	return hwm(), lines[len(lines)-1]
}

// watchHWM polls the process's VmHWM (peak RSS of its own address space)
// until it exits and returns a func giving the highest value seen, in MB.
// ru_maxrss cannot be used: Linux carries the forking parent's high-water
// mark (this test process, which holds the generated certificates) across
// exec into the child's.
func watchHWM(pid int) func() float64 {
	var mu sync.Mutex
	var peak float64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			kb, err := vmHWM(pid)
			if err != nil {
				return // exited
			}
			mu.Lock()
			peak = max(peak, float64(kb)/1024)
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return func() float64 {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

func needProc(b *testing.B) {
	b.Helper()
	if _, err := os.Stat("/proc/self/status"); err != nil {
		b.Skip("peak RSS is read from /proc/PID/status (Linux)")
	}
}

func vmHWM(pid int) (int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	if strings.Contains(string(data), "State:\tZ") {
		return 0, errors.New("zombie")
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
		}
	}
	return 0, errors.New("no VmHWM")
}

func benchRSS(b *testing.B, dir, store string) {
	sql := fmt.Sprintf("SELECT count(*) FROM client_certificates WHERE path = '%s'", dir)
	var worst float64
	for i := 0; i < b.N; i++ {
		mb, count := peakRSS(b, sql)
		require.Equal(b, strconv.Itoa(bigN), count, "%s: every certificate read", store)
		worst = max(worst, mb)
	}
	b.ReportMetric(worst, "peakRSS-MB")
}

// BenchmarkPeakRSS10kPEM: standalone scan of a directory of 10,000 PEM files.
func BenchmarkPeakRSS10kPEM(b *testing.B) {
	pemDir, _ := bigStores(b)
	b.ResetTimer()
	benchRSS(b, pemDir, "pem")
}

// BenchmarkPeakRSS10kNSS: standalone scan of an NSS database of 10,000.
func BenchmarkPeakRSS10kNSS(b *testing.B) {
	_, nssDir := bigStores(b)
	b.ResetTimer()
	benchRSS(b, nssDir, "nssdb")
}

// BenchmarkPeakRSS10kExtension: the osquery path, where all 10,000 rows of
// 25 columns also travel back over Thrift in one response.
func BenchmarkPeakRSS10kExtension(b *testing.B) {
	needProc(b)
	pemDir, nssDir := bigStores(b)
	for _, c := range []struct{ name, path string }{{"pem", pemDir}, {"nssdb", nssDir}} {
		b.Run(c.name, func(b *testing.B) {
			var worst float64
			for i := 0; i < b.N; i++ {
				worst = max(worst, osqueryScanRSS(b, c.path))
			}
			b.ReportMetric(worst, "peakRSS-MB")
		})
	}
}

// osqueryScanRSS starts the extension under a fake manager, has it generate
// every row of path, and returns its peak RSS in MB.
func osqueryScanRSS(b *testing.B, path string) float64 {
	sock := socketPath(shortDir(b))
	m := startManager(b, sock)
	p := startExtension(b, sock)
	m.waitRegistered(b, 10*time.Second)
	ext := extensionClient(b, sock, m.uuid)
	resp, err := ext.Call(context.Background(), "table", "client_certificates", gen.ExtensionPluginRequest{
		"action": "generate", "context": osqueryContext(b, columnNames(), map[string][]op{"path": {{opEquals, path}}})})
	require.NoError(b, err)
	require.Len(b, resp.Response, bigN)
	kb, err := vmHWM(p.cmd.Process.Pid) // still serving: its peak so far covers the scan and the reply
	require.NoError(b, err)
	require.NoError(b, ext.Shutdown(context.Background()))
	require.NoError(b, p.waitExit(b, 5*time.Second))
	m.vanish()
	return float64(kb) / 1024
}

package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testpki"
	"github.com/certsight/certsight/tests/bench/internal/edgeresult"
)

// TestLoadSmoke runs the load generator for a moment against an in-process
// TLS server that asks for the client certificate, measuring this process
// as "the proxy": the harness works end to end without the peers.
func TestLoadSmoke(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("CPU time is read from /proc")
	}
	root, err := testpki.NewRoot("Smoke Root")
	require.NoError(t, err)
	leaf, err := root.Issue(testpki.Options{})
	require.NoError(t, err)
	srvLeaf, err := root.ServerCert()
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(root.Cert)

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "no client certificate", http.StatusForbidden)
			return
		}
		io.WriteString(w, "ok\n")
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert,
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvLeaf.Cert.Raw}, PrivateKey: srvLeaf.Key}}}
	srv.StartTLS()
	defer srv.Close()

	s, err := runLoad(loadSpec{url: srv.URL, workers: 2, warmup: 50 * time.Millisecond, measure: 300 * time.Millisecond,
		tls: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key}}},
		pid: os.Getpid()})
	require.NoError(t, err)
	require.Zero(t, s.Errors)
	require.Positive(t, s.Requests)
	require.Equal(t, s.Requests, s.Hist.Total, "every counted request has a latency")
	require.Positive(t, s.P50)
	require.LessOrEqual(t, s.P50, s.P99)
	require.Positive(t, s.MachineCPU)

	// Two rounds of two proxies pool into ratios against the baseline of
	// the same round.
	d := edgeresult.Document{Baseline: "base", Machine: edgeresult.Machine{CPUs: 2}, Samples: []edgeresult.Sample{
		{Name: "base", Round: 1, Requests: 100, Seconds: 1, ProxyCPU: 0.004, CPUPerReq: 40},
		{Name: "us", Round: 1, Requests: 100, Seconds: 1, ProxyCPU: 0.006, CPUPerReq: 60},
		{Name: "us", Round: 2, Requests: 300, Seconds: 1, ProxyCPU: 0.015, CPUPerReq: 50},
		{Name: "base", Round: 2, Requests: 300, Seconds: 1, ProxyCPU: 0.0075, CPUPerReq: 25},
	}}
	summarize(&d)
	require.Len(t, d.Summary, 2)
	us := d.Summary[1]
	require.Equal(t, "us", us.Name)
	require.InDelta(t, 52.5, us.CPUPerReq, 1e-9) // 21 ms over 400 requests
	require.InDelta(t, 52.5/28.75, us.CPURatio, 1e-9)
	require.InDeltaSlice(t, []float64{1.5, 2}, us.CPURatioRounds, 1e-9)
	require.InDelta(t, 200.0, us.RPS, 1e-9)
}

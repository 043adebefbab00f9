package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certsight/certsight/tests/bench/internal/edgeresult"
)

// load runs -c workers for -d, each with its own HTTP/1.1 keep-alive
// connection presenting the client certificate, and prints one Sample as a
// JSON line. -pid names the proxy's process (its children are counted
// too) and -origin-pid the origin's.
func load(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	target := fs.String("url", "", "https URL")
	name := fs.String("name", "", "label for the result")
	round := fs.Int("round", 0, "round number, for the result")
	workers := fs.Int("c", 32, "workers (one connection each)")
	dur := fs.Duration("d", 10*time.Second, "measured duration")
	warm := fs.Duration("warmup", time.Second, "warm-up before measuring")
	certFile := fs.String("cert", "client.pem", "client certificate chain")
	keyFile := fs.String("key", "client.key", "client key")
	rootFile := fs.String("cacert", "root.pem", "server CA")
	pid := fs.Int("pid", 0, "the proxy's process id (0: do not measure CPU)")
	originPid := fs.Int("origin-pid", 0, "the origin's process id")
	fs.Parse(args)
	kp, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	data, err := os.ReadFile(*rootFile)
	if err != nil {
		return err
	}
	roots.AppendCertsFromPEM(data)
	s, err := runLoad(loadSpec{url: *target, workers: *workers, warmup: *warm, measure: *dur,
		tls: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{kp}},
		pid: *pid, originPid: *originPid})
	if err != nil {
		return err
	}
	s.Name, s.Round = *name, *round
	out, err := json.Marshal(s)
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}

type loadSpec struct {
	url              string
	workers          int
	warmup, measure  time.Duration
	tls              *tls.Config
	pid, originPid   int
	onMeasureStarted func() // for tests
}

func runLoad(spec loadSpec) (*edgeresult.Sample, error) {
	var measuring atomic.Bool
	var ok, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	hists := make([]edgeresult.Histogram, spec.workers)
	for i := range spec.workers {
		tr := &http.Transport{
			TLSClientConfig:     spec.tls,
			MaxIdleConnsPerHost: 1,
			MaxConnsPerHost:     1,
			DisableCompression:  true,
			TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{}, // HTTP/1.1
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		}
		c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		h := &hists[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer tr.CloseIdleConnections()
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				resp, err := c.Get(spec.url)
				good := err == nil && resp.StatusCode == http.StatusOK
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				took := time.Since(start)
				if measuring.Load() {
					if good {
						ok.Add(1)
						h.Add(took)
					} else {
						failed.Add(1)
					}
				}
			}
		}()
	}
	time.Sleep(spec.warmup)
	load1 := loadAverage()
	proxyPids := processTree(spec.pid)
	before := takeCPU(proxyPids, spec.originPid)
	measuring.Store(true)
	start := time.Now()
	if spec.onMeasureStarted != nil {
		spec.onMeasureStarted()
	}
	time.Sleep(spec.measure)
	measuring.Store(false)
	elapsed := time.Since(start)
	after := takeCPU(proxyPids, spec.originPid)
	close(stop)
	wg.Wait()

	s := &edgeresult.Sample{Requests: ok.Load(), Errors: failed.Load(), Seconds: elapsed.Seconds(), Load1: load1}
	s.RPS = float64(s.Requests) / s.Seconds
	s.ProxyCPU = after.proxy - before.proxy
	s.ProxySysCPU = after.proxySys - before.proxySys
	s.OriginCPU = after.origin - before.origin
	s.ClientCPU = after.client - before.client
	s.MachineCPU = after.machine - before.machine
	if s.Requests > 0 && spec.pid != 0 {
		s.CPUPerReq = s.ProxyCPU / float64(s.Requests) * 1e6
	}
	for i := range hists {
		s.Hist.Merge(&hists[i])
	}
	s.P50, s.P90, s.P99, s.P999 = s.Hist.Quantile(0.50), s.Hist.Quantile(0.90), s.Hist.Quantile(0.99), s.Hist.Quantile(0.999)
	return s, nil
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

type cpuReading struct{ proxy, proxySys, origin, client, machine float64 }

func takeCPU(proxy []int, origin int) cpuReading {
	var r cpuReading
	for _, p := range proxy {
		user, sys := processCPU(p)
		r.proxy += user + sys
		r.proxySys += sys
	}
	if origin != 0 {
		user, sys := processCPU(origin)
		r.origin = user + sys
	}
	r.client = selfCPU()
	r.machine = machineBusy()
	return r
}

// processCPU is a process's user and system time in seconds (all its
// threads, the exited ones included), or zeros if it cannot be read.
func processCPU(pid int) (user, sys float64) {
	f := procStatFields(pid)
	if len(f) < 13 {
		return 0, 0
	}
	// Fields after "pid (comm)": state is [0], utime [11], stime [12].
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return u / clockTicks, s / clockTicks
}

// procStatFields returns the fields of /proc/<pid>/stat after the command
// name (which may hold spaces and parentheses).
func procStatFields(pid int) []string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(data[i+1:]))
}

// processTree returns root and every descendant (nginx's workers are its
// master's children), or nil for root 0.
func processTree(root int) []int {
	if root == 0 {
		return nil
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return []int{root}
	}
	parent := map[int]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := procStatFields(pid); len(f) > 1 {
			parent[pid], _ = strconv.Atoi(f[1])
		}
	}
	in := func(p int) bool {
		for range 64 {
			if p == root {
				return true
			}
			if p <= 1 {
				return false
			}
			p = parent[p]
		}
		return false
	}
	out := []int{root}
	for p := range parent {
		if p != root && in(p) {
			out = append(out, p)
		}
	}
	return out
}

// machineBusy is the whole machine's non-idle CPU time in seconds, from the
// first line of /proc/stat.
func machineBusy() float64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	var busy float64
	for i, v := range f[1:] {
		n, _ := strconv.ParseFloat(v, 64)
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest time is already counted in user
			break
		}
		busy += n
	}
	return busy / clockTicks
}

func loadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

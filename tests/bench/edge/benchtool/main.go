// Command benchtool is the proxy benchmark's helper: it makes the PKI
// (gen), runs the origin (origin) and the bare Go reverse proxy (bareproxy),
// and loads a proxy with client certificates over HTTP/1.1 keep-alive (load).
// run.sh drives it; everything listens on loopback only.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/certsight/certsight/internal/testpki"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool gen|origin|bareproxy|load|report [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "origin":
		err = origin(os.Args[2:])
	case "bareproxy":
		err = bareproxy(os.Args[2:])
	case "load":
		err = load(os.Args[2:])
	case "report":
		err = report(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

// gen writes root.pem, client.pem (leaf + intermediate), client.key,
// server.pem, server.key and server-combined.pem (HAProxy) into a directory.
func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	dir := fs.String("dir", ".", "output directory")
	fs.Parse(args)
	root, err := testpki.NewRoot("Bench Root CA")
	if err != nil {
		return err
	}
	inter, err := root.NewIntermediate("Bench Intermediate CA")
	if err != nil {
		return err
	}
	leaf, err := inter.Issue(testpki.Options{})
	if err != nil {
		return err
	}
	srv, err := root.ServerCert()
	if err != nil {
		return err
	}
	lk, err := testpki.KeyPEM(leaf.Key)
	if err != nil {
		return err
	}
	sk, err := testpki.KeyPEM(srv.Key)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"root.pem":            testpki.CertPEM(root.Cert),
		"client.pem":          testpki.CertPEM(leaf.Cert, inter.Cert),
		"client.key":          lk,
		"client-combined.pem": append(testpki.CertPEM(leaf.Cert, inter.Cert), lk...),
		"server.pem":          testpki.CertPEM(srv.Cert),
		"server.key":          sk,
		"server-combined.pem": append(testpki.CertPEM(srv.Cert), sk...),
	}
	for name, data := range files {
		if err := testpki.WriteFile(filepath.Join(*dir, name), data); err != nil {
			return err
		}
	}
	return nil
}

func untilSignal() context.Context {
	ctx, _ := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	return ctx
}

// origin answers every request with a small body (with -echo: the request's
// headers as JSON); it counts requests that arrived without a Client-Cert,
// reported on exit.
func origin(args []string) error {
	fs := flag.NewFlagSet("origin", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:18080", "address")
	echo := fs.Bool("echo", false, "answer with the received headers as JSON")
	fs.Parse(args)
	var total, missing atomic.Int64
	srv := &http.Server{Addr: *listen, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		total.Add(1)
		if r.Header.Get("Client-Cert") == "" {
			missing.Add(1)
		}
		if *echo {
			w.Header().Set("Content-Type", "application/json")
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			enc.Encode(map[string]any{"method": r.Method, "path": r.URL.Path, "headers": r.Header})
			return
		}
		io.WriteString(w, "ok\n")
	})}
	ctx := untilSignal()
	go func() { <-ctx.Done(); srv.Close() }()
	err := srv.ListenAndServe()
	fmt.Fprintf(os.Stderr, "origin: %d requests, %d without Client-Cert\n", total.Load(), missing.Load())
	if err == http.ErrServerClosed {
		return nil
	}
	return err
}

// bareproxy is the "bare Go proxy" of the comparison: httputil.ReverseProxy
// behind TLS that asks for a client certificate and copies the leaf into
// Client-Cert on every request without verifying anything (-verify: verify
// the chain on every request instead, the naive secure version).
func bareproxy(args []string) error {
	fs := flag.NewFlagSet("bareproxy", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:18446", "address")
	originURL := fs.String("origin", "http://127.0.0.1:18080", "origin")
	certFile := fs.String("cert", "server.pem", "server certificate")
	keyFile := fs.String("key", "server.key", "server key")
	rootFile := fs.String("client-ca", "root.pem", "client CA (with -verify)")
	verify := fs.Bool("verify", false, "verify the chain on every request")
	fs.Parse(args)
	u, err := url.Parse(*originURL)
	if err != nil {
		return err
	}
	kp, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if data, err := os.ReadFile(*rootFile); err == nil {
		roots.AppendCertsFromPEM(data)
	}
	rp := &httputil.ReverseProxy{
		Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second},
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Header.Del("Client-Cert")
			if pr.In.TLS == nil || len(pr.In.TLS.PeerCertificates) == 0 {
				return
			}
			peer := pr.In.TLS.PeerCertificates
			if *verify {
				inter := x509.NewCertPool()
				for _, c := range peer[1:] {
					inter.AddCert(c)
				}
				if _, err := peer[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
					KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
					return
				}
			}
			pr.Out.Header.Set("Client-Cert", ":"+base64.StdEncoding.EncodeToString(peer[0].Raw)+":")
		},
	}
	srv := &http.Server{Addr: *listen, Handler: rp, TLSConfig: &tls.Config{
		Certificates: []tls.Certificate{kp}, ClientAuth: tls.RequestClientCert}}
	ctx := untilSignal()
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.ListenAndServeTLS("", ""); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// load runs -c workers for -d, each with its own HTTP/1.1 keep-alive
// connection presenting the client certificate, and prints one JSON line.
func load(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	target := fs.String("url", "", "https URL")
	name := fs.String("name", "", "label for the result")
	workers := fs.Int("c", 32, "workers (one connection each)")
	dur := fs.Duration("d", 10*time.Second, "measured duration")
	warm := fs.Duration("warmup", time.Second, "warm-up before measuring")
	certFile := fs.String("cert", "client.pem", "client certificate chain")
	keyFile := fs.String("key", "client.key", "client key")
	rootFile := fs.String("cacert", "root.pem", "server CA")
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

	var measuring atomic.Bool
	var ok, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range *workers {
		tr := &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{kp}},
			MaxIdleConnsPerHost: 1,
			MaxConnsPerHost:     1,
			DisableCompression:  true,
			TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{}, // HTTP/1.1
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		}
		c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
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
				resp, err := c.Get(*target)
				good := err == nil && resp.StatusCode == 200
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if measuring.Load() {
					if good {
						ok.Add(1)
					} else {
						failed.Add(1)
					}
				}
			}
		}()
	}
	time.Sleep(*warm)
	measuring.Store(true)
	start := time.Now()
	time.Sleep(*dur)
	measuring.Store(false)
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	out, _ := json.Marshal(map[string]any{
		"name": *name, "requests": ok.Load(), "errors": failed.Load(),
		"seconds": elapsed.Seconds(), "rps": float64(ok.Load()) / elapsed.Seconds(),
	})
	fmt.Println(string(out))
	return nil
}

// report reads the JSON lines of load and prints, per name (rounds pooled:
// all requests over all measured seconds), requests per second and the
// -base entry's ratio to it.
func report(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	base := fs.String("base", "certsight-edge", "name the ratios are relative to")
	fs.Parse(args)
	type result struct {
		Name     string  `json:"name"`
		Requests int64   `json:"requests"`
		Errors   int64   `json:"errors"`
		Seconds  float64 `json:"seconds"`
		RPS      float64 `json:"rps"`
	}
	var rs []result
	index := map[string]int{}
	dec := json.NewDecoder(os.Stdin)
	for {
		var r result
		if err := dec.Decode(&r); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("reading results: %w", err)
		}
		i, seen := index[r.Name]
		if !seen {
			index[r.Name] = len(rs)
			rs = append(rs, result{Name: r.Name})
			i = len(rs) - 1
		}
		rs[i].Requests += r.Requests
		rs[i].Errors += r.Errors
		rs[i].Seconds += r.Seconds
	}
	for i := range rs {
		if rs[i].Seconds > 0 {
			rs[i].RPS = float64(rs[i].Requests) / rs[i].Seconds
		}
	}
	var baseRPS float64
	for _, r := range rs {
		if r.Name == *base {
			baseRPS = r.RPS
		}
	}
	fmt.Printf("%-28s %10s %8s %10s %12s\n", "proxy", "req/s", "errors", "requests", *base+"/x")
	for _, r := range rs {
		ratio := "-"
		if r.RPS > 0 && baseRPS > 0 {
			ratio = fmt.Sprintf("%.2f", baseRPS/r.RPS)
		}
		fmt.Printf("%-28s %10.0f %8d %10d %12s\n", r.Name, r.RPS, r.Errors, r.Requests, ratio)
	}
	return nil
}

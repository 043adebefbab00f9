// Command benchtool is the proxy benchmark's helper: it makes the PKI and
// CRLs (gen), runs the origin (origin) and the bare Go reverse proxy
// (bareproxy), loads a proxy with client certificates over HTTP/1.1
// keep-alive while measuring the proxy's CPU time and each request's latency
// (load), describes the machine (meta) and pools the rounds into one JSON
// document (report). run.sh drives it; everything listens on loopback only.
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
	"math/big"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/certsight/certsight/internal/testpki"
)

// subcommands are benchtool's jobs, each with its own flags.
var subcommands = map[string]func(args []string) error{
	"gen": gen, "origin": origin, "bareproxy": bareproxy, "load": load, "meta": meta, "report": report,
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool gen|origin|bareproxy|load|meta|report [flags]")
		os.Exit(2)
	}
	var err error
	if run, ok := subcommands[os.Args[1]]; ok {
		err = run(os.Args[2:])
	} else {
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

// gen writes root.pem, inter.pem, client.pem (leaf + intermediate), client.key,
// server.pem, server.key, server-combined.pem (HAProxy) and crls.pem (a
// current CRL from the root and one from the intermediate, neither revoking
// the client: nginx and HAProxy check every CA in the chain) into a
// directory.
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
	rootCRL, err := root.CurrentCRL(big.NewInt(0x5eed))
	if err != nil {
		return err
	}
	interCRL, err := inter.CurrentCRL(big.NewInt(0x5eed))
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
		"inter.pem":           testpki.CertPEM(inter.Cert),
		"client.pem":          testpki.CertPEM(leaf.Cert, inter.Cert),
		"client.key":          lk,
		"client-combined.pem": append(testpki.CertPEM(leaf.Cert, inter.Cert), lk...),
		"server.pem":          testpki.CertPEM(srv.Cert),
		"server.key":          sk,
		"server-combined.pem": append(testpki.CertPEM(srv.Cert), sk...),
		"crls.pem":            append(testpki.CRLPEM(rootCRL), testpki.CRLPEM(interCRL)...),
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

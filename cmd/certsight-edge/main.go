// Command certsight-edge is an mTLS-terminating reverse proxy: it verifies
// client certificates (with CRLs), removes every client copy of the managed
// headers, and tells the origin what it saw through header rules — RFC 9440
// Client-Cert / Client-Cert-Chain by default.
//
//	certsight-edge --listen 127.0.0.1:8443 --tls-cert server.pem --tls-key server.key \
//	    --client-ca ca.pem --origin http://127.0.0.1:8080
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/certsight/certsight/cert"
	"github.com/certsight/certsight/edge"
	"github.com/certsight/certsight/edge/crlfetch"
	"github.com/certsight/certsight/edge/ocsp"
	"github.com/certsight/certsight/edge/reload"
	"github.com/certsight/certsight/edge/revocation"
	"github.com/certsight/certsight/internal/h1lane"
)

var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "certsight-edge:", err)
		os.Exit(1)
	}
}

type options struct {
	listen            string
	tlsCert, tlsKey   string
	clientCA          string
	clientAuth        string
	crls              []string
	intermediates     string
	revocationFail    string
	maxChainCerts     int
	maxChainBytes     int
	origin            string
	rulesFile         string
	legacy            string
	hostnameSettings  string
	tlsMin            string
	managedTransform  bool
	workersHeaders    bool
	accessLog         bool
	logFormat         string
	readHeaderTimeout time.Duration
	idleTimeout       time.Duration
	bodyReadTimeout   time.Duration
	h2IdleTimeout     time.Duration
	h2ReadIdle        time.Duration
	h2PingTimeout     time.Duration
	originDial        time.Duration
	originResponse    time.Duration
	maxConnAge        time.Duration
	maxConnRequests   int64
	maxConns          int
	allowUpgrade      []string
	shutdownTimeout   time.Duration
	http1Lane         bool
	crlCheckInterval  time.Duration
	reloadInterval    time.Duration
	ocsp              bool
	ocspResponder     string
	ocspTimeout       time.Duration
	ocspLeafOnly      bool
	pprofListen       string
	showVersion       bool
	featureOptions
}

func newFlags(o *options, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("certsight-edge", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8443", "address to listen on (TLS)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "server certificate PEM (chain allowed)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "server private key PEM")
	fs.StringVar(&o.clientCA, "client-ca", "", "PEM bundle of trust anchors for client certificates")
	fs.StringVar(&o.clientAuth, "client-auth", "", "request, require, verify-if-given or require-and-verify (default verify-if-given with --client-ca, else request)")
	fs.StringArrayVar(&o.crls, "crl", nil, "CRL file, PEM or DER; repeatable; reloaded when it changes, and after a failed load on every check; its issuer must be a --client-ca or --client-intermediates certificate")
	fs.StringVar(&o.intermediates, "client-intermediates", "", "PEM bundle of intermediate CAs (not trust anchors): used to build client chains and to check their CRLs")
	fs.StringVar(&o.revocationFail, "revocation-fail", "closed", `issuer with a CRL but none current: closed (not verified, "CRL has expired") or open (counted as not revoked)`)
	fs.IntVar(&o.maxChainCerts, "max-client-chain", edge.DefaultMaxChainCerts, "most certificates a client may present; more ends the handshake (bad_certificate)")
	fs.IntVar(&o.maxChainBytes, "max-client-chain-bytes", edge.DefaultMaxChainBytes, "most bytes of certificates a client may present; more ends the handshake (bad_certificate)")
	fs.StringVar(&o.origin, "origin", "", "origin URL, e.g. http://127.0.0.1:8080")
	fs.StringVar(&o.rulesFile, "rules", "", "Cloudflare ruleset JSON for request header transforms (default: the four RFC 9440 rules)")
	fs.StringVar(&o.legacy, "legacy-forwarding", "off", "Cf-Client-Cert-Der-Base64/-Sha256: off, first-request or every-request (first-request when --hostname-settings is given)")
	fs.StringVar(&o.hostnameSettings, "hostname-settings", "", `switches legacy forwarding on per hostname: {"settings":[{"hostname":"…","client_certificate_forwarding":true}]}`)
	fs.StringVar(&o.tlsMin, "tls-min-version", "1.2", "lowest TLS version: 1.2 or 1.3")
	fs.BoolVar(&o.managedTransform, "managed-transform", false, `also add one cf-cert-* header per field ("Add TLS client auth headers")`)
	fs.BoolVar(&o.workersHeaders, "workers-headers", false, "also add the nine X-CERT-* headers of Cloudflare's Workers mTLS example")
	fs.BoolVar(&o.accessLog, "access-log", true, "log one structured record per request")
	fs.StringVar(&o.logFormat, "log-format", "json", "log format: json or text")
	fs.DurationVar(&o.readHeaderTimeout, "read-header-timeout", 10*time.Second, "time allowed for the TLS handshake and an HTTP/1.1 request's headers")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", 60*time.Second, "HTTP/1.1 keep-alive idle timeout")
	fs.DurationVar(&o.bodyReadTimeout, "body-read-timeout", 30*time.Second, "longest wait for the next bytes of a request body (HTTP/1.1 and each HTTP/2 stream)")
	fs.DurationVar(&o.h2IdleTimeout, "h2-idle-timeout", 30*time.Second, "HTTP/2 connection with no open stream (also a header block in progress) is closed after this")
	fs.DurationVar(&o.h2ReadIdle, "h2-read-idle-timeout", 30*time.Second, "HTTP/2: send a PING after this long without a frame from the client")
	fs.DurationVar(&o.h2PingTimeout, "h2-ping-timeout", 15*time.Second, "HTTP/2: close the connection when a PING is not answered within this")
	fs.DurationVar(&o.originDial, "origin-dial-timeout", 5*time.Second, "time allowed to connect to the origin")
	fs.DurationVar(&o.originResponse, "origin-response-timeout", 60*time.Second, "time allowed for the origin's response header once the request is sent")
	fs.DurationVar(&o.maxConnAge, "max-conn-age", 10*time.Minute, "client connections older than this are closed gracefully (Connection: close; idle HTTP/2 closed)")
	fs.Int64Var(&o.maxConnRequests, "max-conn-requests", 1000, "requests per client connection before it is closed gracefully")
	fs.IntVar(&o.maxConns, "max-conns", 4096, "most open client connections; more wait in the listen backlog")
	fs.StringSliceVar(&o.allowUpgrade, "allow-upgrade", []string{"websocket"}, `Upgrade protocols forwarded to the origin ("" for none; h2c is never allowed); others are removed from the request`)
	fs.BoolVar(&o.http1Lane, "http1-lane", true, "serve plain HTTP/1.1 requests (no body, no upgrade) in the connection's goroutine, without net/http's per-request machinery; false: every request through net/http")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 15*time.Second, "grace period for in-flight requests on SIGINT/SIGTERM")
	fs.BoolVar(&o.ocsp, "ocsp", false, "check verified client certificates and their intermediates with OCSP (the AIA responder, or --ocsp-responder); revoked wins over a good CRL, no answer within --ocsp-timeout falls under --revocation-fail")
	fs.StringVar(&o.ocspResponder, "ocsp-responder", "", "http:// URL of the OCSP responder to ask instead of each certificate's AIA URL (implies --ocsp)")
	fs.DurationVar(&o.ocspTimeout, "ocsp-timeout", 2*time.Second, "longest a handshake waits for an OCSP answer not yet cached (the fetch goes on for the next one)")
	fs.BoolVar(&o.ocspLeafOnly, "ocsp-leaf-only", false, "check only the client certificate with OCSP, not its intermediates")
	fs.DurationVar(&o.crlCheckInterval, "crl-check-interval", time.Second, "how often CRL files are checked for changes and CRLs for staleness")
	fs.DurationVar(&o.reloadInterval, "reload-check-interval", time.Second, "how often --tls-cert, --tls-key, --client-ca, --client-intermediates, --rules and --hostname-settings are checked for changes and reloaded (0: only on SIGHUP)")
	fs.StringVar(&o.pprofListen, "pprof-listen", "", "debugging: serve net/http/pprof on this address (plain HTTP; keep it on loopback)")
	fs.BoolVar(&o.showVersion, "version", false, "print the version and exit")
	addFeatureFlags(fs, &o.featureOptions)
	fs.String("flags-file", "", "JSON file whose keys are these flags' names (flags given on the command line win)")
	// --config was the old name of --flags-file. It keeps working for
	// existing units and scripts, but only certsight.ext's --config (the
	// posture config) is documented, so one flag name means one thing.
	fs.String("config", "", "old name of --flags-file")
	_ = fs.MarkDeprecated("config", "use --flags-file (same meaning)")
	return fs
}

// applyFlagsFile sets every flag named in the JSON file that the command line
// did not set. Unknown keys are errors.
func applyFlagsFile(fs *pflag.FlagSet, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading flags file: %w", err)
	}
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("decoding flags file %s: %w", path, err)
	}
	for key, raw := range m {
		f := fs.Lookup(key)
		if f == nil || key == "flags-file" || key == "config" {
			return fmt.Errorf("flags file %s: unknown key %q", path, key)
		}
		if f.Changed {
			continue
		}
		var vals []string
		var list []any
		var one any
		if err := json.Unmarshal(raw, &list); err == nil {
			for _, v := range list {
				vals = append(vals, fmt.Sprint(v))
			}
		} else if err := json.Unmarshal(raw, &one); err == nil {
			vals = []string{fmt.Sprint(one)}
		} else {
			return fmt.Errorf("flags file %s: key %q: %w", path, key, err)
		}
		for _, v := range vals {
			if err := fs.Set(key, v); err != nil {
				return fmt.Errorf("flags file %s: key %q: %w", path, key, err)
			}
		}
	}
	return nil
}

// run starts the proxy and serves until ctx ends. ready, when not nil,
// receives the listening address.
func run(ctx context.Context, args []string, stderr io.Writer, ready chan<- string) error {
	// SIGHUP reloads the configuration. Its default action ends the
	// process, so it is caught first, before anything can take long.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var o options
	fs := newFlags(&o, stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.showVersion {
		fmt.Fprintln(stderr, "certsight-edge", version)
		return nil
	}
	p, _ := fs.GetString("flags-file")
	if old, _ := fs.GetString("config"); p == "" {
		p = old
	}
	if p != "" {
		if err := applyFlagsFile(fs, p); err != nil {
			return err
		}
	}
	// The settings file switches legacy forwarding on for its hostnames; the
	// mode then defaults to Cloudflare's, the first request of a connection.
	if o.hostnameSettings != "" && !fs.Changed("legacy-forwarding") {
		o.legacy = "first-request"
	}
	var handler slog.Handler = slog.NewJSONHandler(stderr, nil)
	if o.logFormat == "text" {
		handler = slog.NewTextHandler(stderr, nil)
	} else if o.logFormat != "json" {
		return fmt.Errorf("--log-format %q: want json or text", o.logFormat)
	}
	log := slog.New(handler)

	es, err := buildServer(o, log, hup)
	if err != nil {
		return err
	}
	srv, ln, background, inflight := es.http, es.ln, es.background, es.inflight
	bctx, cancelBackground := context.WithCancel(ctx)
	defer cancelBackground()
	for _, f := range background {
		go f(bctx)
	}
	log.Info("certsight-edge listening", "addr", ln.Addr().String(), "origin", o.origin, "version", version)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	if o.pprofListen != "" {
		stopPprof, err := servePprof(o.pprofListen, log)
		if err != nil {
			return err
		}
		defer stopPprof()
	}
	go func() { errc <- srv.Serve(ln) }()
	if es.lane != nil {
		// What the lane hands back is served by the same server; Shutdown
		// closes this listener too.
		go srv.Serve(es.lane.Listener())
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", o.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if err == nil && es.lane != nil {
		err = es.lane.Shutdown(sctx)
	}
	if err != nil {
		// Cut the requests still running; their handlers see the
		// cancellation, answer, and write their access-log lines, which
		// are worth a short wait.
		srv.Close()
		if es.lane != nil {
			es.lane.Close()
		}
		done := make(chan struct{})
		go func() { inflight.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}

// edgeServer is what serving needs: the server and its listener, the
// HTTP/1.1 fast lane (nil with --http1-lane=false), the in-flight request
// count, and the background loops (CRL polling, reloads) to run meanwhile.
type edgeServer struct {
	http       *http.Server
	ln         net.Listener
	lane       *h1lane.Lane
	inflight   *inflightHandler
	background []func(context.Context)
}

// buildServer makes the edgeServer from the options.
func buildServer(o options, log *slog.Logger, hup <-chan os.Signal) (es *edgeServer, err error) {
	var background []func(context.Context)
	if o.tlsCert == "" || o.tlsKey == "" {
		return nil, errors.New("--tls-cert and --tls-key are required")
	}
	if o.origin == "" {
		return nil, errors.New("--origin is required")
	}
	origin, err := url.Parse(o.origin)
	if err != nil || (origin.Scheme != "http" && origin.Scheme != "https") || origin.Host == "" {
		return nil, fmt.Errorf("--origin %q: want an http:// or https:// URL", o.origin)
	}
	feat, err := newFeatures(o.featureOptions, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			feat.close()
		}
	}()
	// Stamped before the first read, so a change during it is reloaded.
	rl := &reloader{o: o, log: log} // completed below, before anything runs
	watcher := reload.New(reload.Options{Files: o.watchedFiles(), Logger: log, Load: rl.load,
		OnResult: func(ok bool) {
			if feat.metrics != nil {
				feat.metrics.Reload(ok)
			}
		}})
	fc, err := readFileConfig(o, log, time.Time{})
	if err != nil {
		return nil, err
	}
	base := &tls.Config{}
	switch o.tlsMin {
	case "1.2":
		base.MinVersion = tls.VersionTLS12
	case "1.3":
		base.MinVersion = tls.VersionTLS13
	default:
		return nil, fmt.Errorf("--tls-min-version %q: want 1.2 or 1.3", o.tlsMin)
	}

	verifier := &edge.Verifier{MaxChainCerts: o.maxChainCerts, MaxChainBytes: o.maxChainBytes}
	if verifier.Policy, err = revocation.ParsePolicy(o.revocationFail); err != nil {
		return nil, err
	}
	issuers := fc.issuers()
	verifier.Roots, verifier.Intermediates = fc.pools()
	var crlFiles *revocation.Files
	crlMode, err := crlfetch.ParseMode(o.crlFetch)
	if err != nil {
		return nil, err
	}
	fetchCRLs := crlMode != crlfetch.ModeOff
	if len(o.crls) > 0 || fetchCRLs {
		if o.clientCA == "" {
			flag := "--crl needs"
			if len(o.crls) == 0 {
				flag = "--crl-fetch needs"
			}
			return nil, fmt.Errorf("%s --client-ca: a CRL's issuer must be a trust anchor or a --client-intermediates certificate", flag)
		}
		store := revocation.NewStore(revocation.Options{Issuers: issuers, Logger: log})
		files := revocation.NewFiles(store, o.crls, log)
		if err := files.Load(); err != nil {
			return nil, err
		}
		verifier.Revocation = store
		crlFiles = files
		background = append(background, func(ctx context.Context) { files.Run(ctx, o.crlCheckInterval) })
		fetch, err := feat.crlFetcher(o.featureOptions, verifier, issuers)
		if err != nil {
			return nil, err
		}
		if fetch != nil {
			background = append(background, fetch)
		}
	}
	if o.ocsp || o.ocspResponder != "" {
		if o.clientCA == "" {
			return nil, errors.New("--ocsp needs --client-ca")
		}
		if verifier.Revocation == nil {
			// No CRLs: an empty store only carries the generation that
			// makes open connections look again after an OCSP answer.
			verifier.Revocation = revocation.NewStore(revocation.Options{Issuers: issuers, Logger: log})
		}
		store := verifier.Revocation
		if o.ocspTimeout <= 0 {
			return nil, fmt.Errorf("--ocsp-timeout %v: want a positive duration", o.ocspTimeout)
		}
		verifier.OCSPLeafOnly = o.ocspLeafOnly
		client, err := ocsp.NewClient(ocsp.Options{Responder: o.ocspResponder, Logger: log, Wait: o.ocspTimeout,
			OnResult: func(result string) {
				store.Touch() // open connections look again
				if feat.metrics != nil {
					feat.metrics.Fetch("ocsp", result)
				}
			}})
		if err != nil {
			return nil, err
		}
		verifier.OCSP = client
	}
	if o.clientAuth == "" {
		o.clientAuth = "request"
		if o.clientCA != "" {
			o.clientAuth = "verify-if-given"
		}
	}
	mode, err := edge.ParseClientAuth(o.clientAuth)
	if err != nil {
		return nil, err
	}
	startCfg := edge.Config{ManagedTransform: o.managedTransform, WorkersHeaders: o.workersHeaders,
		XFCC: o.xfcc, OnStrip: feat.onStrip()}
	if startCfg.Legacy, err = edge.ParseLegacyMode(o.legacy); err != nil {
		return nil, err
	}
	cfg := fc.apply(startCfg, *verifier)
	// From here on the edge's verifier is cfg's copy (with fc's pools).
	verifier = cfg.Verifier
	e, err := edge.New(cfg)
	if err != nil {
		return nil, err
	}
	rl.e, rl.base, rl.verifier, rl.crls = e, startCfg, *verifier, crlFiles
	background = append(background, func(ctx context.Context) { watcher.Run(ctx, hup, o.reloadInterval) })
	tlsCfg, err := e.TLSConfig(base, mode)
	if err != nil {
		return nil, err
	}
	var upgrades []string
	for _, u := range o.allowUpgrade {
		if u != "" {
			upgrades = append(upgrades, u)
		}
	}
	guard, err := edge.NewGuard(edge.GuardOptions{MaxConns: o.maxConns, H2IdleTimeout: o.h2IdleTimeout,
		BodyIdleTimeout: o.bodyReadTimeout, MaxConnAge: o.maxConnAge, MaxConnRequests: o.maxConnRequests,
		AllowUpgrade: upgrades})
	if err != nil {
		return nil, fmt.Errorf("--allow-upgrade: %w", err)
	}
	background = append(background, func(ctx context.Context) { guard.Run(ctx, time.Second) })
	proxy := guard.Handler(e.Proxy(origin, edge.ProxyOptions{Logger: log, AccessLog: o.accessLog,
		OriginDialTimeout: o.originDial, OriginResponseHeaderTimeout: o.originResponse,
		OnOriginError: feat.onOriginError()}))
	health := healthz(verifier)
	feat.watchRevocation(verifier.Revocation)
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			health(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	})
	tcp, err := net.Listen("tcp", o.listen)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", o.listen, err)
	}
	inflight := &inflightHandler{next: feat.wrap(mux)}
	connState := feat.connState(guard.ConnState)
	errorLog := feat.errorLog(slog.NewLogLogger(log.Handler(), slog.LevelWarn))
	var handler http.Handler = inflight
	var lane *h1lane.Lane
	if o.http1Lane {
		lane = h1lane.New(inflight, h1lane.Options{ReadHeaderTimeout: o.readHeaderTimeout, IdleTimeout: o.idleTimeout,
			ConnState: connState, ErrorLog: errorLog})
		handler = lane
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: o.readHeaderTimeout,
		IdleTimeout:       o.idleTimeout,
		HTTP2: &http.HTTP2Config{SendPingTimeout: o.h2ReadIdle, PingTimeout: o.h2PingTimeout,
			WriteByteTimeout: o.bodyReadTimeout},
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			ctx = guard.ConnContext(e.ConnContext(ctx, c), c)
			if lane != nil {
				ctx = lane.ConnContext(ctx, c)
			}
			return ctx
		},
		ConnState: connState,
		ErrorLog:  errorLog,
	}
	if lane != nil {
		// Idle lane connections close as soon as shutdown begins.
		srv.RegisterOnShutdown(lane.BeginShutdown)
	}
	if o.readHeaderTimeout <= 0 {
		log.Warn("--read-header-timeout 0: a client can hold a connection open forever by sending headers slowly")
	}
	log.Info("client authentication", "mode", mode.String(), "trust_anchors", o.clientCA != "", "crls", len(o.crls), "crl_fetch", crlMode.String(),
		"revocation_fail", verifier.Policy.String(), "legacy_forwarding", cfg.Legacy.String(), "rules", cmp(o.rulesFile, "default"))
	background = append(background, feat.background()...)
	return &edgeServer{http: srv, ln: e.Listener(guard.Listener(tcp), tlsCfg), lane: lane, inflight: inflight,
		background: background}, nil
}

// inflightHandler counts running requests, so shutdown can wait for the
// access-log lines of the ones it cut.
type inflightHandler struct {
	next http.Handler
	sync.WaitGroup
}

func (h *inflightHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.Add(1)
	defer h.Done()
	h.next.ServeHTTP(w, r)
}

// readCerts reads a PEM bundle that must hold at least one certificate.
func readCerts(flag, path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", flag, err)
	}
	certs, err := cert.ParseCertificates(data)
	if err != nil || len(certs) == 0 {
		return nil, fmt.Errorf("%s %s: no certificates (%v)", flag, path, err)
	}
	return certs, nil
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

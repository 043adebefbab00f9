// Package metrics is certsight-edge's Prometheus instrumentation: request
// outcomes by client certificate, stripped spoof attempts, revocation
// fetches, CRL freshness per issuer, handshake failures, open connections,
// origin errors and request durations. Everything lives in one private
// registry (no global state); Handler serves it in the text exposition
// format.
//
// The per-request path (Wrap) touches only pre-resolved counters and one
// histogram: no label hashing, no allocation.
package metrics

import (
	"bytes"
	"context"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/certsight/certsight/edge"
)

const ns = "certsight_edge"

// Request outcome classes (label client_cert) and failure reason classes
// (label reason, "" unless client_cert="failed").
const (
	OutcomeNone     = "none"
	OutcomeVerified = "verified"
	OutcomeFailed   = "failed"
	OutcomeRevoked  = "revoked"
)

// Reason classes: coarse on purpose, so the label set stays bounded whatever
// a client sends.
var reasonClasses = []string{"expired", "not_yet_valid", "untrusted", "purpose", "invalid_ca", "signature", "revocation_unknown", "other"}

// ReasonClass maps an OpenSSL-worded verification failure to its class.
func ReasonClass(reason string) string {
	switch reason {
	case "certificate has expired":
		return "expired"
	case "certificate is not yet valid":
		return "not_yet_valid"
	case "unable to get local issuer certificate", "self signed certificate", "self signed certificate in certificate chain":
		return "untrusted"
	case "unsupported certificate purpose":
		return "purpose"
	case "invalid CA certificate", "certificate chain too long", "permitted subtree violation", "subject issuer mismatch":
		return "invalid_ca"
	case "certificate signature failure":
		return "signature"
	}
	if strings.Contains(reason, "CRL") || strings.Contains(reason, "OCSP") || strings.Contains(reason, "revocation") {
		return "revocation_unknown"
	}
	return "other"
}

// Families of managed header names, for the stripped-header counter.
var families = []string{"client-cert", "cf-client-cert", "cf-cert", "x-cert", "xfcc", "rule"}

// Family classifies a stripped header name (any case, any of the aliases the
// edge folds: "_" and "." read as "-").
func Family(name string) string {
	var buf [64]byte
	n := min(len(name), len(buf))
	for i := 0; i < n; i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		default:
			c = '-'
		}
		buf[i] = c
	}
	f := string(buf[:n])
	switch {
	case strings.HasPrefix(f, "x-forwarded-client-cert"):
		return "xfcc"
	case strings.HasPrefix(f, "cf-client-cert"):
		return "cf-client-cert"
	case strings.HasPrefix(f, "cf-cert-"):
		return "cf-cert"
	case strings.HasPrefix(f, "x-cert-"):
		return "x-cert"
	case strings.HasPrefix(f, "client-cert"):
		return "client-cert"
	}
	return "rule"
}

// IssuerStatus is what the CRL gauges show for one issuer.
type IssuerStatus struct {
	Issuer     string // RFC 2253 name
	ThisUpdate time.Time
	NextUpdate time.Time
	Current    bool
}

// Metrics holds the collectors. Build it with New; it is safe for
// concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	none, verified, revoked prometheus.Counter
	failed                  map[string]prometheus.Counter
	stripped                map[string]prometheus.Counter
	fetches                 *prometheus.CounterVec
	handshakes              *prometheus.CounterVec
	open                    prometheus.Gauge
	originErrors            prometheus.Counter
	duration                prometheus.Histogram
	reloads                 *prometheus.CounterVec

	mu      sync.Mutex
	issuers func() []IssuerStatus
	now     func() time.Time
}

var (
	crlAgeDesc  = prometheus.NewDesc(ns+"_crl_age_seconds", "Age of the issuer's current CRL (now minus thisUpdate).", []string{"issuer"}, nil)
	crlNextDesc = prometheus.NewDesc(ns+"_crl_next_update_seconds", "Seconds until the issuer's current CRL reaches nextUpdate (negative: stale).", []string{"issuer"}, nil)
	crlCurDesc  = prometheus.NewDesc(ns+"_crl_current", "1 when the issuer has a current CRL, 0 when its revocation data is stale or missing.", []string{"issuer"}, nil)
)

// New builds the metrics with Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), now: time.Now}
	req := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "requests_total",
		Help: "Requests by client-certificate outcome (none, verified, failed, revoked) and failure reason class."},
		[]string{"client_cert", "reason"})
	m.none = req.WithLabelValues(OutcomeNone, "")
	m.verified = req.WithLabelValues(OutcomeVerified, "")
	m.revoked = req.WithLabelValues(OutcomeRevoked, "")
	m.failed = map[string]prometheus.Counter{}
	for _, r := range reasonClasses {
		m.failed[r] = req.WithLabelValues(OutcomeFailed, r)
	}
	str := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "stripped_headers_total",
		Help: "Client-sent copies of managed headers removed (spoof attempts), by name family."}, []string{"family"})
	m.stripped = map[string]prometheus.Counter{}
	for _, f := range families {
		m.stripped[f] = str.WithLabelValues(f)
	}
	m.fetches = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "revocation_fetches_total",
		Help: "CRL and OCSP fetches by kind (crl, ocsp) and result."}, []string{"kind", "result"})
	m.handshakes = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "tls_handshake_failures_total",
		Help: "TLS handshakes that failed, by reason class."}, []string{"reason"})
	m.open = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "open_connections",
		Help: "Client connections currently open."})
	m.originErrors = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "origin_errors_total",
		Help: "Requests the origin could not answer (the edge replied 502)."})
	m.duration = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "request_duration_seconds",
		Help:    "Time from the request reaching the edge to the response handler returning.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "reloads_total",
		Help: "Configuration reloads by result (ok, error)."}, []string{"result"})
	m.reg.MustRegister(req, str, m.fetches, m.handshakes, m.open, m.originErrors, m.duration, m.reloads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		crlCollector{m})
	return m
}

// Registry is the registry holding every collector, for tests and for
// adding more.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in Prometheus text (or negotiated) format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// SetIssuers installs the source of the CRL gauges, read at scrape time.
func (m *Metrics) SetIssuers(f func() []IssuerStatus) {
	m.mu.Lock()
	m.issuers = f
	m.mu.Unlock()
}

type crlCollector struct{ m *Metrics }

func (c crlCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- crlAgeDesc
	ch <- crlNextDesc
	ch <- crlCurDesc
}

func (c crlCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	f := c.m.issuers
	c.m.mu.Unlock()
	if f == nil {
		return
	}
	now := c.m.now()
	seen := map[string]bool{}
	for _, st := range f() {
		if seen[st.Issuer] {
			continue // two CAs with one name: report the first, labels must be unique
		}
		seen[st.Issuer] = true
		cur := 0.0
		if st.Current {
			cur = 1
		}
		ch <- prometheus.MustNewConstMetric(crlCurDesc, prometheus.GaugeValue, cur, st.Issuer)
		if st.ThisUpdate.IsZero() {
			continue
		}
		ch <- prometheus.MustNewConstMetric(crlAgeDesc, prometheus.GaugeValue, now.Sub(st.ThisUpdate).Seconds(), st.Issuer)
		if !st.NextUpdate.IsZero() {
			ch <- prometheus.MustNewConstMetric(crlNextDesc, prometheus.GaugeValue, st.NextUpdate.Sub(now).Seconds(), st.Issuer)
		}
	}
}

// Wrap counts every request next serves by its client-certificate outcome
// and observes its duration. It must wrap the edge's handler (outside it),
// so the connection's fields are known when next returns.
func (m *Metrics) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		next.ServeHTTP(w, r)
		m.duration.Observe(time.Since(start).Seconds())
		v, ok := edge.TLSClientAuthFrom(r.Context())
		m.outcome(v, ok)
	})
}

func (m *Metrics) outcome(v edge.TLSClientAuth, ok bool) {
	switch {
	case !ok || v.CertPresented != "1":
		m.none.Inc()
	case v.CertRevoked == "1":
		m.revoked.Inc()
	case v.CertVerified == edge.VerifySuccess:
		m.verified.Inc()
	default:
		m.failed[ReasonClass(strings.TrimPrefix(v.CertVerified, "FAILED:"))].Inc()
	}
}

// Stripped counts one removed client copy of a managed header.
func (m *Metrics) Stripped(name string) { m.stripped[Family(name)].Inc() }

// Fetch counts one CRL or OCSP fetch ("crl"/"ocsp") with its result
// ("ok", "not_modified", "error", "rejected", "good", "revoked", "unknown", …).
func (m *Metrics) Fetch(kind, result string) { m.fetches.WithLabelValues(kind, result).Inc() }

// OriginError counts one request the origin could not answer.
func (m *Metrics) OriginError() { m.originErrors.Inc() }

// Reload counts a configuration reload.
func (m *Metrics) Reload(ok bool) {
	if ok {
		m.reloads.WithLabelValues("ok").Inc()
	} else {
		m.reloads.WithLabelValues("error").Inc()
	}
}

// ConnState is an http.Server.ConnState hook keeping the open-connection
// gauge.
func (m *Metrics) ConnState(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		m.open.Inc()
	case http.StateClosed, http.StateHijacked:
		m.open.Dec()
	}
}

// handshakeReasons classify handshake error texts: the first class with a
// phrase the text contains wins.
var handshakeReasons = []struct {
	reason  string
	phrases []string
}{
	{"client_certificate", []string{"client certificate", "client didn't provide a certificate"}},
	{"eof", []string{"EOF", "connection reset", "broken pipe"}},
	{"timeout", []string{"timeout", "deadline"}},
	{"not_tls", []string{"first record does not look like a TLS handshake", "HTTP request to an HTTPS server"}},
	{"negotiation", []string{"unsupported versions", "no cipher suite", "no application protocol"}},
	{"chain_limits", []string{"too many certificates", "chain"}},
}

// HandshakeReason classifies the text of a TLS handshake error as
// net/http logs it; "other" when no class matches.
func HandshakeReason(msg string) string {
	for _, c := range handshakeReasons {
		for _, p := range c.phrases {
			if strings.Contains(msg, p) {
				return c.reason
			}
		}
	}
	return "other"
}

// ErrorLog returns a logger for http.Server.ErrorLog that counts TLS
// handshake failures by reason and passes every line on to next.
func (m *Metrics) ErrorLog(next *log.Logger) *log.Logger {
	return log.New(&errorLogWriter{m: m, next: next}, "", 0)
}

type errorLogWriter struct {
	m    *Metrics
	next *log.Logger
}

func (w *errorLogWriter) Write(p []byte) (int, error) {
	if i := bytes.Index(p, []byte("TLS handshake error")); i >= 0 {
		w.m.handshakes.WithLabelValues(HandshakeReason(string(p[i:]))).Inc()
	}
	if w.next != nil {
		w.next.Output(2, string(bytes.TrimRight(p, "\n")))
	}
	return len(p), nil
}

// Serve serves /metrics on ln until ctx ends.
func (m *Metrics) Serve(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		return err
	}
	return nil
}

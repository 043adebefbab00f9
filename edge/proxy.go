package edge

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/certsight/certsight/edge/rules"
)

// ProxyOptions tune Proxy.
type ProxyOptions struct {
	// Transport reaches the origin; nil means a keep-alive transport sized
	// for a busy edge.
	Transport http.RoundTripper
	// Logger receives the access log (one Info record per request) and
	// origin errors; nil discards both.
	Logger *slog.Logger
	// AccessLog turns the per-request record on.
	AccessLog bool
	// OnOriginError, when set, is called for every request the origin could
	// not answer (before the 502 is written), for metrics.
	OnOriginError func(r *http.Request, err error)
	// Origin timeouts of the default transport: connecting, waiting for the
	// response header after the request was written, keeping an idle
	// connection. Zero means 5s, 60s and 90s.
	OriginDialTimeout           time.Duration
	OriginResponseHeaderTimeout time.Duration
	OriginIdleTimeout           time.Duration
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Proxy returns a reverse proxy to origin that applies the edge to every
// request. Headers are set in ReverseProxy.Rewrite, which runs after the
// hop-by-hop headers (including every name the client listed in
// Connection:) have been removed, so a client cannot make the proxy drop a
// header the edge set. X-Forwarded-For/-Host/-Proto are set from the
// connection, never copied from the client.
//
// Requests without a body to an http:// origin take a fast path that does
// the same in the handler's goroutine over pooled HTTP/1.1 connections
// (see fastProxy); a custom opts.Transport turns it off.
func (e *Edge) Proxy(origin *url.URL, opts ProxyOptions) http.Handler {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tr := opts.Transport
	custom := tr != nil
	if tr == nil {
		tr = &http.Transport{
			Proxy:                 nil, // never an environment proxy between edge and origin
			DialContext:           (&net.Dialer{Timeout: orDefault(opts.OriginDialTimeout, 5*time.Second), KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   1024,
			IdleConnTimeout:       orDefault(opts.OriginIdleTimeout, 90*time.Second),
			ResponseHeaderTimeout: orDefault(opts.OriginResponseHeaderTimeout, 60*time.Second),
			ExpectContinueTimeout: time.Second,
		}
	}
	bufs := &bufferPool{}
	rp := &httputil.ReverseProxy{
		Transport:  tr,
		BufferPool: bufs,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(origin)
			pr.SetXForwarded()
			ci, _ := e.requestInfo(pr.In)
			e.apply(pr.Out.Header, pr.In, ci)
			// Request trailers could carry the names too.
			if pr.Out.Trailer != nil {
				ci.cfg.san.strip(pr.Out.Trailer)
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if opts.OnOriginError != nil {
				opts.OnOriginError(r, err)
			}
			// r is the outbound request: SetURL cleared its Host, the
			// client's is in X-Forwarded-Host.
			log.Warn("origin request failed", "method", r.Method, "host", r.Header.Get("X-Forwarded-Host"),
				"origin", r.URL.Host, "path", r.URL.Path, "err", err)
			http.Error(w, "502 Bad Gateway: the origin could not be reached", http.StatusBadGateway)
		},
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	var h http.Handler = rp
	if !custom {
		if fp := newFastProxy(e, origin, rp, log, bufs, opts); fp != nil {
			h = fp
		}
	}
	if !opts.AccessLog {
		return h
	}
	return e.AccessLog(h, log)
}

// AccessLog wraps next with a structured access log: method, host, path,
// status, duration, protocol, client address and the verification outcome
// (presented, verify result, revoked, SHA-256 of the client certificate).
// Certificate bodies are never logged.
func (e *Edge) AccessLog(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("host", r.Host),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Duration("duration", time.Since(start)),
			slog.String("proto", r.Proto),
			slog.String("remote", r.RemoteAddr),
		}
		if r.TLS != nil {
			ci, _ := e.requestInfo(r)
			attrs = append(attrs,
				slog.Bool("cert_presented", ci.result.Presented),
				slog.String("cert_verify", ci.view.CertVerified),
				slog.Bool("cert_revoked", ci.flag[rules.FieldCertRevoked]),
				slog.String("cert_sha256", ci.view.CertFingerprintSHA256),
			)
			attrs = appendCRLState(attrs, &ci.result)
		}
		log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	})
}

// appendCRLState says, for a chain that verified up to a trust anchor,
// whether the CRLs it was checked against were current: "current" (every
// covered issuer of the chain had a current CRL), "stale" (with
// crl_stale_issuers naming those that had none: under --revocation-fail
// closed they made the certificate fail), or "none" (no issuer of the chain
// is covered, so no CRL applied).
func appendCRLState(attrs []slog.Attr, res *Result) []slog.Attr {
	switch {
	case len(res.Chain) == 0:
		return attrs
	case len(res.StaleIssuers) > 0:
		return append(attrs, slog.String("crl", "stale"), slog.Any("crl_stale_issuers", res.StaleIssuers))
	case res.CRLChecked:
		return append(attrs, slog.String("crl", "current"))
	}
	return append(attrs, slog.String("crl", "none"))
}

// bufferPool reuses the 32 KiB copy buffers ReverseProxy would otherwise
// allocate for every response body.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32*1024)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and friends.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

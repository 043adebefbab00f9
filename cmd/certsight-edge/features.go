package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/pflag"

	"github.com/certsight/certsight/edge"
	"github.com/certsight/certsight/edge/crlfetch"
	"github.com/certsight/certsight/edge/metrics"
	"github.com/certsight/certsight/edge/revocation"
)

// featureOptions are the flags of the edge's operational features: Envoy's
// XFCC preset, metrics, fetched revocation data, live reload.
type featureOptions struct {
	xfcc          bool
	metricsListen string
	crlFetch      string
	crlCache      string
	crlWait       time.Duration
	crlTimeout    time.Duration
	crlMaxBytes   int64
	crlRefreshMax time.Duration
}

func addFeatureFlags(fs *pflag.FlagSet, o *featureOptions) {
	fs.BoolVar(&o.xfcc, "xfcc", false, "also set Envoy's x-forwarded-client-cert (By, Hash, Cert, Chain, Subject, URI, DNS) for a verified, unrevoked certificate")
	fs.StringVar(&o.metricsListen, "metrics-listen", "", "serve Prometheus metrics at http://ADDR/metrics (plain HTTP; keep it on a private address), e.g. 127.0.0.1:9464")
	fs.StringVar(&o.crlFetch, "crl-fetch", "off", "fetch CRLs from the http:// CRL distribution points of verified chains and of --client-ca/--client-intermediates: off, ca (CRLs covering CA certificates) or all (also each leaf's issuer's CRL; the bare flag means all)")
	fs.Lookup("crl-fetch").NoOptDefVal = "all"
	fs.StringVar(&o.crlCache, "crl-cache", "", "directory keeping fetched CRLs across restarts (created 0700, refused when group/other-writable; entries are re-checked at start, tampered ones refused)")
	fs.DurationVar(&o.crlWait, "crl-fetch-wait", 2*time.Second, "window after a distribution point is first named in which handshakes wait for its first CRL; past it --revocation-fail decides")
	fs.DurationVar(&o.crlTimeout, "crl-fetch-timeout", 15*time.Second, "time allowed for one CRL fetch, body included")
	fs.Int64Var(&o.crlMaxBytes, "crl-max-bytes", 10<<20, "largest CRL fetched or read from the cache")
	fs.DurationVar(&o.crlRefreshMax, "crl-refresh-max", time.Hour, "longest time between two fetches of a current CRL (refreshes also come halfway to nextUpdate, with jitter)")
}

// features holds what the operational features need while serving. Its
// hooks are no-ops for features that are off.
type features struct {
	log       *slog.Logger
	metrics   *metrics.Metrics
	metricsLn net.Listener
}

func newFeatures(o featureOptions, log *slog.Logger) (*features, error) {
	f := &features{log: log}
	if o.metricsListen != "" {
		ln, err := net.Listen("tcp", o.metricsListen)
		if err != nil {
			return nil, fmt.Errorf("--metrics-listen %s: %w", o.metricsListen, err)
		}
		f.metrics, f.metricsLn = metrics.New(), ln
	}
	return f, nil
}

// background returns the loops to run while serving, until their context
// ends.
func (f *features) background() []func(context.Context) {
	var out []func(context.Context)
	if f.metricsLn != nil {
		out = append(out, func(ctx context.Context) {
			f.log.Info("metrics listening", "addr", f.metricsLn.Addr().String(), "path", "/metrics")
			if err := f.metrics.Serve(ctx, f.metricsLn); err != nil {
				f.log.Error("metrics server stopped", "err", err)
			}
		})
	}
	return out
}

// close releases what start would have used, for a build that fails later.
func (f *features) close() {
	if f.metricsLn != nil {
		f.metricsLn.Close()
	}
}

func (f *features) onStrip() func(string) {
	if f.metrics == nil {
		return nil
	}
	return f.metrics.Stripped
}

func (f *features) onOriginError() func(*http.Request, error) {
	if f.metrics == nil {
		return nil
	}
	return func(*http.Request, error) { f.metrics.OriginError() }
}

func (f *features) wrap(h http.Handler) http.Handler {
	if f.metrics == nil {
		return h
	}
	return f.metrics.Wrap(h)
}

// connState chains the metrics' ConnState hook after next.
func (f *features) connState(next func(net.Conn, http.ConnState)) func(net.Conn, http.ConnState) {
	if f.metrics == nil {
		return next
	}
	return func(c net.Conn, st http.ConnState) {
		if next != nil {
			next(c, st)
		}
		f.metrics.ConnState(c, st)
	}
}

func (f *features) errorLog(l *log.Logger) *log.Logger {
	if f.metrics == nil {
		return l
	}
	return f.metrics.ErrorLog(l)
}

// healthz answers the load balancer: 200 "ok", or 503 under
// --revocation-fail closed when any covered issuer has no current CRL (its
// certificates are then refused, so the edge should leave rotation). The
// body says, per covered issuer, whether its revocation data is current:
// each stale issuer first, then each current one with its nextUpdate.
func healthz(v *edge.Verifier) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		var stale, current []revocation.IssuerStatus
		if v != nil && v.Revocation != nil {
			for _, st := range v.Revocation.Statuses() {
				switch {
				case st.Covered && !st.Current:
					stale = append(stale, st)
				case st.Covered:
					current = append(current, st)
				}
			}
		}
		staleFmt := "stale revocation data (--revocation-fail open): %s\n"
		if len(stale) > 0 && v.Policy == revocation.FailClosed {
			w.WriteHeader(http.StatusServiceUnavailable)
			staleFmt = "stale revocation data: %s\n"
		} else {
			io.WriteString(w, "ok\n")
		}
		for _, st := range stale {
			fmt.Fprintf(w, staleFmt, st.Issuer)
		}
		for _, st := range current {
			fmt.Fprintf(w, "current revocation data: %s (next update %s)\n", st.Issuer, st.NextUpdate.UTC().Format(time.RFC3339))
		}
	}
}

// crlFetcher wires --crl-fetch into v (whose store must exist) and returns
// its background loop; nil when fetching is off.
func (f *features) crlFetcher(o featureOptions, v *edge.Verifier, issuers []*x509.Certificate) (func(context.Context), error) {
	mode, err := crlfetch.ParseMode(o.crlFetch)
	if err != nil || mode == crlfetch.ModeOff {
		return nil, err
	}
	fetcher, err := crlfetch.New(crlfetch.Options{Store: v.Revocation, Mode: mode, Roots: v.Roots, Intermediates: v.Intermediates,
		CacheDir: o.crlCache, Wait: o.crlWait, Timeout: o.crlTimeout, MaxBytes: o.crlMaxBytes, RefreshMax: o.crlRefreshMax,
		Logger: f.log, OnResult: func(result string) {
			if f.metrics != nil {
				f.metrics.Fetch("crl", result)
			}
		}})
	if err != nil {
		return nil, err
	}
	fetcher.AddIssuers(issuers)
	if err := fetcher.LoadCache(); err != nil {
		return nil, err
	}
	v.CRLFetch = fetcher
	return fetcher.Run, nil
}

// watchRevocation feeds the CRL gauges from the store.
func (f *features) watchRevocation(store *revocation.Store) {
	if f.metrics == nil || store == nil {
		return
	}
	f.metrics.SetIssuers(func() []metrics.IssuerStatus {
		var out []metrics.IssuerStatus
		for _, st := range store.Statuses() {
			if !st.Covered && !st.HasCRL {
				continue
			}
			out = append(out, metrics.IssuerStatus{Issuer: st.Issuer, ThisUpdate: st.ThisUpdate,
				NextUpdate: st.NextUpdate, Current: st.Current})
		}
		return out
	})
}

package ocsp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/certsight/certsight/edge/revocation"
)

// Options configure a Client.
type Options struct {
	// Responder overrides every certificate's AIA OCSP URL (http only).
	Responder string
	// Wait bounds how long Check waits for a fresh answer; the fetch itself
	// goes on (up to FetchTimeout) so a later Check finds it. Default 2s.
	Wait time.Duration
	// FetchTimeout bounds one HTTP exchange. Default 10s.
	FetchTimeout time.Duration
	// RetryAfter is how long a failed fetch is remembered before the
	// responder is asked again. Default 10s.
	RetryAfter time.Duration
	// MaxAge caps how long an answer without nextUpdate, or with a far one,
	// is cached. Default 1h.
	MaxAge time.Duration
	// HTTP is the client used; nil means one without proxies or redirects.
	HTTP *http.Client
	// Logger gets one line per failed fetch; nil discards.
	Logger *slog.Logger
	// OnResult hears every fetch's outcome ("good", "revoked", "unknown",
	// "error"), for metrics.
	OnResult func(result string)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// maxResponseBytes bounds what a responder may send.
const maxResponseBytes = 1 << 20

// Client checks certificates with OCSP, caching answers per (issuer,
// serial). It is safe for concurrent use.
type Client struct {
	o    Options
	http *http.Client
	log  *slog.Logger

	mu      sync.Mutex
	entries map[cacheKey]*entry
}

type cacheKey struct {
	issuer [32]byte // SHA-256 of the issuer's DER
	serial string
}

type entry struct {
	done    chan struct{} // closed when the fetch in flight ends
	status  Status
	expires time.Time // when the answer (or the failure) stops counting
	err     error
}

// NewClient builds a client.
func NewClient(o Options) (*Client, error) {
	if o.Responder != "" {
		u, err := url.Parse(o.Responder)
		if err != nil || u.Scheme != "http" || u.Host == "" {
			return nil, fmt.Errorf("ocsp responder %q: want an http:// URL", o.Responder)
		}
	}
	if o.Wait <= 0 {
		o.Wait = 2 * time.Second
	}
	if o.FetchTimeout <= 0 {
		o.FetchTimeout = 10 * time.Second
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = 10 * time.Second
	}
	if o.MaxAge <= 0 {
		o.MaxAge = time.Hour
	}
	c := &Client{o: o, http: o.HTTP, log: o.Logger, entries: map[cacheKey]*entry{}}
	if c.http == nil {
		c.http = &http.Client{
			// No keep-alive: fetches are rare (one per certificate per
			// nextUpdate), and a single-threaded responder (openssl ocsp)
			// must not have its one slot held by an idle connection.
			Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return errors.New("ocsp: redirects are not followed")
			},
		}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

func (c *Client) now() time.Time {
	if c.o.Now != nil {
		return c.o.Now()
	}
	return time.Now()
}

// responderURL picks the URL to ask about cert: the override, else the
// first http AIA OCSP URL. "" means OCSP does not cover the certificate.
func (c *Client) responderURL(cert *x509.Certificate) string {
	if c.o.Responder != "" {
		return c.o.Responder
	}
	for _, u := range cert.OCSPServer {
		if strings.HasPrefix(strings.ToLower(u), "http://") {
			return u
		}
	}
	return ""
}

// Check returns cert's status as issued by issuer, from the cache or the
// responder, waiting at most Options.Wait (or less, if ctx ends sooner).
func (c *Client) Check(ctx context.Context, cert, issuer *x509.Certificate) Status {
	s, _ := c.check(ctx, cert, issuer)
	return s
}

// CheckOCSP implements revocation.OCSPChecker: NotChecked counts as good
// (OCSP does not cover the certificate), and the time is when the answer
// stops holding (a failure's retry time, for Unknown).
func (c *Client) CheckOCSP(ctx context.Context, cert, issuer *x509.Certificate) (revocation.OCSPStatus, time.Time) {
	s, until := c.check(ctx, cert, issuer)
	switch s {
	case Good, NotChecked:
		return revocation.OCSPGood, until
	case Revoked:
		return revocation.OCSPRevoked, until
	}
	if until.IsZero() { // still in flight: look again soon
		until = c.now().Add(c.o.Wait)
	}
	return revocation.OCSPUnknown, until
}

func (c *Client) check(ctx context.Context, cert, issuer *x509.Certificate) (Status, time.Time) {
	if cert == nil || issuer == nil {
		return Unknown, time.Time{}
	}
	u := c.responderURL(cert)
	if u == "" {
		return NotChecked, time.Time{}
	}
	key := cacheKey{issuer: sha256.Sum256(issuer.Raw), serial: string(cert.SerialNumber.Bytes())}
	now := c.now()
	c.mu.Lock()
	e := c.entries[key]
	if e != nil {
		select {
		case <-e.done:
			if e.status == Revoked || now.Before(e.expires) {
				c.mu.Unlock()
				if e.status == Revoked {
					return Revoked, time.Time{} // never forgotten
				}
				return e.status, e.expires
			}
			e = nil // expired: fetch again
		default: // in flight: wait for it below
		}
	}
	if e == nil {
		if len(c.entries) >= maxEntries {
			c.sweep(now)
		}
		e = &entry{done: make(chan struct{})}
		c.entries[key] = e
		go c.fetch(e, u, cert, issuer)
	}
	c.mu.Unlock()
	wait, cancel := context.WithTimeout(ctx, c.o.Wait)
	defer cancel()
	select {
	case <-e.done:
		if e.status == Revoked {
			return Revoked, time.Time{}
		}
		return e.status, e.expires
	case <-wait.Done():
		return Unknown, time.Time{}
	}
}

// maxEntries bounds the cache; past it, expired answers are dropped first
// and then, if still full, everything but revocations.
const maxEntries = 100000

func (c *Client) sweep(now time.Time) {
	for k, e := range c.entries {
		select {
		case <-e.done:
			if e.status != Revoked && !now.Before(e.expires) {
				delete(c.entries, k)
			}
		default:
		}
	}
	if len(c.entries) < maxEntries {
		return
	}
	for k, e := range c.entries {
		select {
		case <-e.done:
			if e.status != Revoked {
				delete(c.entries, k)
			}
		default:
		}
	}
}

// fetch asks the responder and records the answer in e.
func (c *Client) fetch(e *entry, u string, cert, issuer *x509.Certificate) {
	status, expires, err := c.ask(u, cert, issuer)
	result := status.String()
	if err != nil {
		result = "error"
		status, expires = Unknown, c.now().Add(c.o.RetryAfter)
		c.log.Warn("OCSP check failed", "responder", u, "serial", fmt.Sprintf("%X", cert.SerialNumber), "err", err)
	}
	c.mu.Lock()
	e.status, e.expires, e.err = status, expires, err
	c.mu.Unlock()
	// After the answer is recorded, before done closes (so a caller of
	// Check sees the hook's effects): a connection that the hook makes look
	// again (revocation.Store.Touch) waits on done for this answer.
	if c.o.OnResult != nil {
		c.o.OnResult(result)
	}
	close(e.done)
}

func (c *Client) ask(u string, cert, issuer *x509.Certificate) (Status, time.Time, error) {
	id, err := NewCertID(cert, issuer)
	if err != nil {
		return Unknown, time.Time{}, err
	}
	body, err := Request(id)
	if err != nil {
		return Unknown, time.Time{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.o.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return Unknown, time.Time{}, err
	}
	req.Header.Set("Content-Type", "application/ocsp-request")
	req.Header.Set("Accept", "application/ocsp-response")
	resp, err := c.http.Do(req)
	if err != nil {
		return Unknown, time.Time{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Unknown, time.Time{}, fmt.Errorf("ocsp: responder answered HTTP %d", resp.StatusCode)
	}
	der, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return Unknown, time.Time{}, fmt.Errorf("ocsp: reading response: %w", err)
	}
	if len(der) > maxResponseBytes {
		return Unknown, time.Time{}, fmt.Errorf("ocsp: response larger than %d bytes", maxResponseBytes)
	}
	now := c.now()
	r, err := ParseResponse(der, id, issuer, now)
	if err != nil {
		return Unknown, time.Time{}, err
	}
	expires := now.Add(c.o.MaxAge)
	if !r.NextUpdate.IsZero() && r.NextUpdate.Before(expires) {
		expires = r.NextUpdate
	}
	if r.Status == Unknown {
		// The responder does not know the certificate: ask again soon.
		expires = now.Add(c.o.RetryAfter)
	}
	return r.Status, expires, nil
}

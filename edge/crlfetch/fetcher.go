package crlfetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certsight/certsight/edge/revocation"
	"github.com/certsight/certsight/internal/enum"
)

// Mode says which certificates' distribution points are followed.
type Mode int

const (
	// ModeOff fetches nothing.
	ModeOff Mode = iota
	// ModeCA fetches the CRLs that cover CA certificates: those named by
	// trust anchors and intermediates, so intermediates (and anchors'
	// own CRLs) are checked.
	ModeCA
	// ModeAll also fetches the CRL each leaf names: its issuer's CRL.
	ModeAll
)

// modeNames spells the modes as --crl-fetch takes them. The bare flag is
// "all", so a --flags-file's JSON true and false mean all and off; a value
// out of range prints as off, which is how it is treated.
var modeNames = enum.Names[Mode]{Type: "Mode", What: "--crl-fetch mode", Words: []string{"off", "ca", "all"},
	Aliases: map[string]Mode{"": ModeOff, "false": ModeOff, "true": ModeAll}, Else: "off"}

// ParseMode reads a --crl-fetch value: off, ca or all.
func ParseMode(s string) (Mode, error) { return modeNames.Parse(s) }

func (m Mode) String() string { return modeNames.String(m) }

// Results reported to Options.OnResult, one per fetch attempt.
const (
	ResultOK          = "ok"           // a new CRL was accepted
	ResultUnchanged   = "unchanged"    // 200 with the CRL already in use
	ResultNotModified = "not_modified" // 304 to a conditional GET
	ResultError       = "error"        // network, HTTP status, size or time
	ResultRejected    = "rejected"     // a response the acceptance rules refused
)

// Options configure a Fetcher; zero values take the defaults below.
type Options struct {
	// Store receives the CRLs and decides whether they are better evidence.
	Store *revocation.Store
	// Mode: ModeCA or ModeAll (ModeOff makes a fetcher that does nothing).
	Mode Mode
	// Roots and Intermediates are the trust anchors and configured
	// intermediates: an issuer certificate read from the cache must chain
	// to Roots to be believed.
	Roots, Intermediates *x509.CertPool
	// CacheDir, when set, keeps accepted CRLs across restarts.
	CacheDir string
	// Wait bounds how long a handshake waits for a distribution point's
	// first answer (default 2s); past it the fail policy decides.
	Wait time.Duration
	// Timeout bounds one fetch, body included (default 15s).
	Timeout time.Duration
	// MaxBytes caps a CRL's size (default 10 MiB).
	MaxBytes int64
	// MaxRedirects bounds redirects, which must stay on http (default 3).
	MaxRedirects int
	// RefreshMax is the longest time between two fetches of a distribution
	// point whose CRL is current (default 1h): CAs publish new CRLs well
	// before nextUpdate.
	RefreshMax time.Duration
	// RetryMin and RetryMax bound the backoff after failures (2s, 5m).
	RetryMin, RetryMax time.Duration
	// MaxURLs caps the distribution points followed (default 1000).
	MaxURLs int
	// HTTP replaces the client (tests); nil builds one as described in
	// the package documentation.
	HTTP *http.Client
	// Logger gets one line per change of state; nil discards.
	Logger *slog.Logger
	// OnResult hears every fetch's result (Result* constants), for metrics.
	OnResult func(result string)
}

func (o *Options) defaults() {
	if o.Wait <= 0 {
		o.Wait = 2 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 10 << 20
	}
	if o.MaxRedirects <= 0 {
		o.MaxRedirects = 3
	}
	if o.RefreshMax <= 0 {
		o.RefreshMax = time.Hour
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 2 * time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 5 * time.Minute
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = o.RetryMin
	}
	if o.MaxURLs <= 0 {
		o.MaxURLs = 1000
	}
}

// Fetcher fetches CRLs from distribution points into a revocation store.
// It is safe for concurrent use; WatchChain is what verification calls.
type Fetcher struct {
	o     Options
	log   *slog.Logger
	http  *http.Client
	store *revocation.Store

	mu      sync.Mutex
	jobs    map[string]*job // by first http URL
	ignored map[string]bool // non-http URLs, logged once
	full    bool            // MaxURLs reached, logged once
	ctx     context.Context // set by Run; nil before
	wg      sync.WaitGroup
}

// job is one distribution point: the URLs of one CRL distribution points
// extension (the first http one names it, the others are fallbacks), the
// issuers whose certificates name it, and its fetch state.
type job struct {
	urls []string

	issuers map[string]*x509.Certificate // by issuerKey; guarded by Fetcher.mu

	first     chan struct{} // closed when the first answer is in (or the cache had one)
	firstDone atomic.Bool
	// waitUntil ends the window in which handshakes wait for the first
	// answer: Options.Wait after the distribution point was first named.
	// A slow distribution point thus delays handshakes once, not for as
	// long as its first fetch hangs.
	waitUntil time.Time
	delay     time.Duration // before the first fetch (a current cached CRL)

	// Only the job's goroutine (or the cache loader, before Run) uses these.
	val       validators // of the CRL below
	hash      [32]byte   // SHA-256 of the DER of the CRL last taken from here
	next      time.Time  // its nextUpdate
	cached    [32]byte   // hash of the CRL in the cache
	cachedVal validators // validators in the cache's record
	failures  int        // failed attempts in a row
	state     string     // last logged state: "" (none yet), "ok", or the error
	lateState bool       // "past its nextUpdate" was logged
}

func issuerKey(c *x509.Certificate) string {
	return string(c.RawSubject) + "\x00" + string(c.RawSubjectPublicKeyInfo)
}

// New builds a fetcher; it fetches nothing until Run.
func New(o Options) (*Fetcher, error) {
	if o.Store == nil {
		return nil, errors.New("crlfetch: no revocation store")
	}
	o.defaults()
	f := &Fetcher{o: o, log: o.Logger, http: o.HTTP, store: o.Store, jobs: map[string]*job{}, ignored: map[string]bool{}}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if f.http == nil {
		f.http = newHTTPClient(o.Timeout, o.MaxRedirects)
	}
	return f, nil
}

// AddIssuers follows the distribution points of configured CA certificates
// (trust anchors, intermediates): each names the CRL of its issuer, found
// among certs (itself, for a self-signed anchor that names its own CRL).
// An intermediate whose issuer is not among certs waits for a chain.
func (f *Fetcher) AddIssuers(certs []*x509.Certificate) {
	if f.o.Mode == ModeOff {
		return
	}
	for _, c := range certs {
		if len(c.CRLDistributionPoints) == 0 {
			continue
		}
		for _, iss := range certs {
			if bytes.Equal(c.RawIssuer, iss.RawSubject) && c.CheckSignatureFrom(iss) == nil {
				f.watch(c, iss)
				break
			}
		}
	}
}

// WatchChain implements revocation.ChainWatcher: it follows the
// distribution points of the chain's certificates (from the leaf in
// ModeAll, else from the first intermediate) and waits for the first answer
// of any it had not heard from yet — at most until Options.Wait after that
// distribution point was first named, so at most Options.Wait in all.
func (f *Fetcher) WatchChain(chain []*x509.Certificate) {
	if f.o.Mode == ModeOff {
		return
	}
	start := 1
	if f.o.Mode == ModeAll {
		start = 0
	}
	var pending [4]*job
	n := 0
	for i := start; i+1 < len(chain); i++ {
		if j := f.watch(chain[i], chain[i+1]); j != nil && !j.firstDone.Load() && n < len(pending) {
			pending[n] = j
			n++
		}
	}
	if n == 0 {
		return
	}
	for _, j := range pending[:n] {
		d := time.Until(j.waitUntil)
		if d <= 0 {
			continue
		}
		t := time.NewTimer(d)
		select {
		case <-j.first:
		case <-t.C:
		}
		t.Stop()
	}
}

// watch follows c's distribution points for the CRL of iss, covering iss
// in the store the first time, and returns the job (nil: nothing to fetch).
func (f *Fetcher) watch(c, iss *x509.Certificate) *job {
	if len(c.CRLDistributionPoints) == 0 {
		return nil
	}
	key := issuerKey(iss)
	f.mu.Lock()
	var j *job
	for _, u := range c.CRLDistributionPoints {
		if j = f.jobs[u]; j != nil {
			break
		}
	}
	if j != nil {
		_, known := j.issuers[key]
		if !known {
			j.issuers[key] = iss
		}
		f.mu.Unlock()
		if !known {
			f.store.Cover(iss)
		}
		return j
	}
	var urls []string
	for _, u := range c.CRLDistributionPoints {
		if _, err := checkURL(u); err != nil {
			if !f.ignored[u] && len(f.ignored) < f.o.MaxURLs {
				f.ignored[u] = true
				f.log.Info("CRL distribution point ignored: only http:// URLs are fetched", "url", u, "issuer", iss.Subject.String())
			}
			continue
		}
		urls = append(urls, u)
	}
	if len(urls) == 0 {
		f.mu.Unlock()
		return nil
	}
	if len(f.jobs) >= f.o.MaxURLs {
		if !f.full {
			f.full = true
			f.log.Warn("CRL distribution point limit reached: further distribution points are not fetched", "limit", f.o.MaxURLs, "url", urls[0], "issuer", iss.Subject.String())
		}
		f.mu.Unlock()
		return nil
	}
	j = f.addJob(urls, iss)
	f.mu.Unlock()
	f.log.Info("CRL distribution point followed", "url", urls[0], "issuer", iss.Subject.String())
	f.store.Cover(iss)
	return j
}

// addJob registers a distribution point, starting its loop when Run is
// running. Callers hold f.mu.
func (f *Fetcher) addJob(urls []string, issuers ...*x509.Certificate) *job {
	j := &job{urls: urls, issuers: map[string]*x509.Certificate{}, first: make(chan struct{}), waitUntil: time.Now().Add(f.o.Wait)}
	for _, iss := range issuers {
		j.issuers[issuerKey(iss)] = iss
	}
	f.jobs[urls[0]] = j
	if f.ctx != nil {
		f.start(j)
	}
	return j
}

// start runs j's loop. Callers hold f.mu and f.ctx is set.
func (f *Fetcher) start(j *job) {
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		f.loop(f.ctx, j)
	}()
}

// Run fetches until ctx ends, then waits for the fetches in flight.
func (f *Fetcher) Run(ctx context.Context) {
	f.mu.Lock()
	f.ctx = ctx
	for _, j := range f.jobs {
		f.start(j)
	}
	f.mu.Unlock()
	<-ctx.Done()
	f.wg.Wait()
}

func (f *Fetcher) loop(ctx context.Context, j *job) {
	t := time.NewTimer(j.delay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d := f.attempt(ctx, j)
		if j.firstDone.CompareAndSwap(false, true) {
			close(j.first)
		}
		t.Reset(d)
	}
}

// issuers returns a copy of j's issuers.
func (f *Fetcher) issuers(j *job) []*x509.Certificate {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*x509.Certificate, 0, len(j.issuers))
	for _, c := range j.issuers {
		out = append(out, c)
	}
	return out
}

// attempt fetches j's CRL once (each URL in turn until one answers) and
// returns the wait before the next attempt.
func (f *Fetcher) attempt(ctx context.Context, j *job) time.Duration {
	var errs []error
	for _, u := range j.urls {
		result, err := f.fetchOne(ctx, j, u)
		f.report(result)
		if err == nil {
			return f.succeeded(j, u)
		}
		errs = append(errs, fmt.Errorf("%s: %w", u, err))
		if ctx.Err() != nil {
			break
		}
	}
	return f.failed(j, errors.Join(errs...))
}

func (f *Fetcher) report(result string) {
	if f.o.OnResult != nil {
		f.o.OnResult(result)
	}
}

// fetchOne asks u for j's CRL and offers it to the store.
func (f *Fetcher) fetchOne(ctx context.Context, j *job, u string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, f.o.Timeout)
	defer cancel()
	var v validators
	if j.hash != ([32]byte{}) {
		v = j.val // only while holding the CRL they belong to
	}
	resp, err := get(ctx, f.http, u, v, f.o.MaxBytes)
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("no complete answer within %s: %w", f.o.Timeout, err)
	}
	if err != nil {
		return ResultError, err
	}
	if resp.notModified {
		return ResultNotModified, nil
	}
	l, err := f.accept(j, resp.body, u)
	if err != nil {
		return ResultRejected, err
	}
	hash := sha256.Sum256(l.Raw)
	result := ResultUnchanged
	if hash != j.hash {
		result = ResultOK
	}
	j.val, j.hash, j.next = resp.validators, hash, l.NextUpdate
	f.save(j, l.Raw)
	return result, nil
}

// accept parses body as one CRL from one of j's issuers and offers it to
// the store.
func (f *Fetcher) accept(j *job, body []byte, source string) (*x509.RevocationList, error) {
	ders, err := revocation.SplitCRLs(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", revocation.ErrParse, err)
	}
	if len(ders) != 1 {
		return nil, fmt.Errorf("%w: %d CRLs where a distribution point names one", revocation.ErrUnsupported, len(ders))
	}
	l, err := x509.ParseRevocationList(ders[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", revocation.ErrParse, err)
	}
	// The store would take any trusted issuer's CRL; a distribution point
	// serving another CA's CRL leaves its own issuer without one.
	signed := false
	for _, iss := range f.issuers(j) {
		if l.CheckSignatureFrom(iss) == nil {
			signed = true
			break
		}
	}
	if !signed {
		return nil, fmt.Errorf("%w: CRL of %s is not signed by an issuer whose certificates name this distribution point", revocation.ErrSignature, l.Issuer)
	}
	if _, err := f.store.OfferList(l, source); err != nil {
		return nil, err
	}
	return l, nil
}

// succeeded logs a recovery and schedules the next refresh.
func (f *Fetcher) succeeded(j *job, u string) time.Duration {
	if j.state != "ok" {
		if j.state != "" {
			f.log.Info("CRL distribution point answers again", "url", u)
		}
		j.state = "ok"
	}
	now := time.Now()
	if !now.Before(j.next) {
		// The publisher is late: the CRL it serves is past nextUpdate. Ask
		// as often as after a failure until it catches up.
		j.failures++
		if !j.lateState {
			j.lateState = true
			f.log.Warn("CRL at distribution point is past its nextUpdate: the publisher is late", "url", u, "next_update", j.next)
		}
		return retryDelay(j.failures, f.o.RetryMin, f.o.RetryMax)
	}
	j.failures, j.lateState = 0, false
	return refreshDelay(now, j.next, f.o.RefreshMax)
}

// failed logs a new failure state and schedules the retry.
func (f *Fetcher) failed(j *job, err error) time.Duration {
	j.failures++
	d := retryDelay(j.failures, f.o.RetryMin, f.o.RetryMax)
	if msg := err.Error(); msg != j.state {
		j.state = msg
		f.log.Warn("CRL fetch failed; the last accepted CRL stays in use", "url", j.urls[0], "err", msg, "retry_in", d.Round(time.Millisecond).String())
	}
	return d
}

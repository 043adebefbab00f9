package crlfetch

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/edge/revocation"
	"github.com/certsight/certsight/internal/testpki"
	"github.com/certsight/certsight/internal/testtool"
)

// crlServer is a loopback HTTP server publishing CRLs by path, with ETag
// and Last-Modified (http.ServeContent answers conditional requests), and
// a log of what it was asked.
type crlServer struct {
	*httptest.Server
	mu       sync.Mutex
	files    map[string][]byte
	mod      map[string]time.Time
	handlers map[string]http.HandlerFunc
	asked    []string // "path cond" per request, cond = "conditional" or ""
}

func newCRLServer(t *testing.T) *crlServer {
	s := &crlServer{files: map[string][]byte{}, mod: map[string]time.Time{}, handlers: map[string]http.HandlerFunc{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		cond := ""
		if r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != "" {
			cond = "conditional"
		}
		s.asked = append(s.asked, strings.TrimSpace(r.URL.Path+" "+cond))
		h, data, mod := s.handlers[r.URL.Path], s.files[r.URL.Path], s.mod[r.URL.Path]
		s.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		if data == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", fmt.Sprintf(`"%x"`, len(data)*31+int(mod.Unix()%1000)))
		w.Header().Set("Content-Type", "application/pkix-crl")
		http.ServeContent(w, r, "", mod, bytes.NewReader(data))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *crlServer) put(path string, der []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = der
	s.mod[path] = time.Now().Add(-time.Minute).Truncate(time.Second)
	if old, ok := s.mod[path+"#"]; ok && !old.Before(s.mod[path]) {
		s.mod[path] = old.Add(time.Second)
	}
	s.mod[path+"#"] = s.mod[path]
}

func (s *crlServer) handle(path string, h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[path] = h
}

func (s *crlServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.asked...)
}

// pki is a root whose intermediate names /root.crl, and leaves of the
// intermediate naming /inter.crl.
type pki struct {
	root, inter     *testpki.Authority
	good, revoked   *testpki.Leaf
	goodChain       []*x509.Certificate
	revokedChain    []*x509.Certificate
	interURL, rootU string
}

func newPKI(t *testing.T, base string, interCDP ...string) *pki {
	t.Helper()
	p := &pki{interURL: base + "/inter.crl", rootU: base + "/root.crl"}
	var err error
	p.root, err = testpki.NewRoot("Fetch Root CA")
	require.NoError(t, err)
	p.inter, err = p.root.NewIntermediateWith("Fetch Intermediate CA", testpki.Options{CRLDistributionPoints: []string{p.rootU}})
	require.NoError(t, err)
	if interCDP == nil {
		interCDP = []string{p.interURL}
	}
	leaf := func(cn string) *testpki.Leaf {
		l, err := p.inter.Issue(testpki.Options{Subject: pkix.Name{CommonName: cn}, CRLDistributionPoints: interCDP})
		require.NoError(t, err)
		return l
	}
	p.good, p.revoked = leaf("good"), leaf("revoked")
	p.goodChain = []*x509.Certificate{p.good.Cert, p.inter.Cert, p.root.Cert}
	p.revokedChain = []*x509.Certificate{p.revoked.Cert, p.inter.Cert, p.root.Cert}
	return p
}

func (p *pki) publish(t *testing.T, s *crlServer, revoked ...*big.Int) {
	t.Helper()
	der, err := p.inter.CurrentCRL(revoked...)
	require.NoError(t, err)
	s.put("/inter.crl", der)
	der, err = p.root.CurrentCRL()
	require.NoError(t, err)
	s.put("/root.crl", der)
}

func (p *pki) roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.root.Cert)
	return pool
}

// results records OnResult.
type results struct {
	mu  sync.Mutex
	got []string
}

func (r *results) add(s string) {
	r.mu.Lock()
	r.got = append(r.got, s)
	r.mu.Unlock()
}

func (r *results) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

type rig struct {
	store *revocation.Store
	f     *Fetcher
	res   *results
	logs  *testtool.SyncBuffer
}

// start builds a store knowing the root and a running fetcher.
func start(t *testing.T, p *pki, o Options) *rig {
	t.Helper()
	r := &rig{res: &results{}, logs: &testtool.SyncBuffer{}}
	log := slog.New(slog.NewTextHandler(r.logs, nil))
	r.store = revocation.NewStore(revocation.Options{Issuers: []*x509.Certificate{p.root.Cert}, Logger: log})
	o.Store, o.Logger, o.OnResult, o.Roots = r.store, log, r.res.add, p.roots()
	if o.Mode == ModeOff {
		o.Mode = ModeAll
	}
	var err error
	r.f, err = New(o)
	require.NoError(t, err)
	r.f.AddIssuers([]*x509.Certificate{p.root.Cert})
	require.NoError(t, r.f.LoadCache())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// watch is what verification does: learn the chain's CAs, let the fetcher
// see the chain, check it.
func (r *rig) watch(chain []*x509.Certificate) (revocation.Verdict, time.Duration) {
	for _, c := range chain[1:] {
		r.store.Learn(c)
	}
	t0 := time.Now()
	r.f.WatchChain(chain)
	d := time.Since(t0)
	return r.store.Check(chain, time.Now()), d
}

func TestFirstChainWaitsForItsCRLs(t *testing.T) {
	s := newCRLServer(t)
	p := newPKI(t, s.URL)
	p.publish(t, s, p.revoked.Cert.SerialNumber)
	for _, tc := range []struct {
		mode      Mode
		revoked   bool
		wantPaths []string
	}{
		{ModeAll, true, []string{"/inter.crl", "/root.crl"}},
		{ModeCA, false, []string{"/root.crl"}}, // the leaf's issuer CRL is not fetched
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			before := len(s.requests())
			r := start(t, p, Options{Mode: tc.mode})
			v, waited := r.watch(p.revokedChain)
			assert.Equal(t, tc.revoked, v.Revoked)
			assert.False(t, v.Stale, v.StaleIssuers)
			assert.True(t, v.Covered)
			assert.Less(t, waited, time.Second)
			v, waited = r.watch(p.goodChain)
			assert.False(t, v.Revoked)
			assert.False(t, v.Stale)
			assert.Less(t, waited, 5*time.Millisecond, "a known distribution point costs no wait")
			assert.ElementsMatch(t, tc.wantPaths, s.requests()[before:])
			assert.Subset(t, []string{ResultOK}, r.res.list())
			st, ok := r.store.Status(p.inter.Cert)
			require.True(t, ok)
			assert.Equal(t, tc.mode == ModeAll, st.Covered)
			if tc.mode == ModeAll {
				assert.Equal(t, p.interURL, st.Source)
			}
		})
	}
}

func TestRefreshIsConditionalAndPicksUpNewRevocations(t *testing.T) {
	s := newCRLServer(t)
	p := newPKI(t, s.URL)
	p.publish(t, s)
	r := start(t, p, Options{RefreshMax: time.Second})
	v, _ := r.watch(p.revokedChain)
	require.False(t, v.Revoked)
	gen := r.store.Generation()
	// Unchanged: the refresh is a conditional GET answered 304.
	require.Eventually(t, func() bool {
		return strings.Contains(strings.Join(s.requests(), ","), "/inter.crl conditional")
	}, 5*time.Second, 20*time.Millisecond, "%v", s.requests())
	// The server logged the request before answering; the result follows.
	require.Eventually(t, func() bool { return slices.Contains(r.res.list(), ResultNotModified) }, 2*time.Second, 10*time.Millisecond)
	assert.Equal(t, gen, r.store.Generation(), "a 304 changes nothing")
	// The CA revokes: the next refresh brings it in.
	s.put("/inter.crl", numberedCRL(t, p.inter, new(big.Int).Lsh(big.NewInt(1), 100), time.Now().Add(-30*time.Minute), p.revoked.Cert.SerialNumber))
	require.Eventually(t, func() bool {
		return r.store.Check(p.revokedChain, time.Now()).Revoked
	}, 5*time.Second, 20*time.Millisecond, r.logs.String())
	assert.NotContains(t, r.logs.String(), "level=WARN")
}

func TestFailuresFallUnderThePolicyAndAreBounded(t *testing.T) {
	otherRoot, err := testpki.NewRoot("Fetch Root CA") // same name, other key
	require.NoError(t, err)
	impostor, err := otherRoot.NewIntermediate("Fetch Intermediate CA")
	require.NoError(t, err)
	for _, tc := range []struct {
		name    string
		serve   func(s *crlServer, p *pki) http.HandlerFunc
		result  string
		wantLog string
	}{
		{"HTTP 500", func(*crlServer, *pki) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", 500) }
		}, ResultError, "HTTP status 500"},
		{"over the size cap", func(*crlServer, *pki) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) { w.Write(make([]byte, 4096)) }
		}, ResultError, "over the 2048-byte limit"},
		{"redirect to https", func(*crlServer, *pki) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://127.0.0.1:1/inter.crl", http.StatusFound)
			}
		}, ResultError, "redirect refused"},
		{"redirect loop", func(*crlServer, *pki) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/inter.crl", http.StatusFound) }
		}, ResultError, "more than 3 redirects"},
		{"hangs", func(*crlServer, *pki) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
		}, ResultError, "no complete answer within 200ms"},
		{"garbage", func(*crlServer, *pki) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("<html>not a CRL</html>")) }
		}, ResultRejected, "not a parsable CRL"},
		{"forged by a same-named CA", func(_ *crlServer, p *pki) http.HandlerFunc {
			der, err := impostor.CurrentCRL()
			require.NoError(t, err)
			return func(w http.ResponseWriter, _ *http.Request) { w.Write(der) }
		}, ResultRejected, "signature does not verify"},
		{"the root's CRL served for the intermediate", func(_ *crlServer, p *pki) http.HandlerFunc {
			der, err := p.root.CurrentCRL()
			require.NoError(t, err)
			return func(w http.ResponseWriter, _ *http.Request) { w.Write(der) }
		}, ResultRejected, "not signed by an issuer whose certificates name this distribution point"},
		{"expired CRL", func(_ *crlServer, p *pki) http.HandlerFunc {
			der, err := p.inter.CRL(nil, time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour))
			require.NoError(t, err)
			return func(w http.ResponseWriter, _ *http.Request) { w.Write(der) }
		}, ResultOK, "past its nextUpdate: the publisher is late"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newCRLServer(t)
			p := newPKI(t, s.URL)
			p.publish(t, s)
			s.handle("/inter.crl", tc.serve(s, p))
			r := start(t, p, Options{Wait: 300 * time.Millisecond, Timeout: 200 * time.Millisecond, MaxBytes: 2048, RetryMin: time.Hour})
			v, waited := r.watch(p.goodChain)
			assert.Less(t, waited, 600*time.Millisecond, "the wait is bounded")
			assert.False(t, v.Revoked)
			assert.True(t, v.Stale, "the leaf's issuer is covered without a current CRL: the policy decides")
			assert.Equal(t, []string{"CN=Fetch Intermediate CA,O=certsight test,C=US"}, v.StaleIssuers)
			require.Eventually(t, func() bool { return strings.Contains(r.logs.String(), tc.wantLog) }, 3*time.Second, 10*time.Millisecond, r.logs.String())
			assert.Contains(t, r.res.list(), tc.result)
			assert.Equal(t, 1, strings.Count(r.logs.String(), tc.wantLog), "logged once")
		})
	}
}

// TestSlowDistributionPointDelaysHandshakesOnce: while a first fetch hangs,
// only the handshakes inside the first Wait window wait; later ones go
// straight to the policy.
func TestSlowDistributionPointDelaysHandshakesOnce(t *testing.T) {
	s := newCRLServer(t)
	p := newPKI(t, s.URL)
	p.publish(t, s)
	release := make(chan struct{})
	defer close(release)
	s.handle("/inter.crl", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	r := start(t, p, Options{Wait: 300 * time.Millisecond, Timeout: 5 * time.Second})
	v, first := r.watch(p.goodChain)
	assert.True(t, v.Stale)
	assert.GreaterOrEqual(t, first, 250*time.Millisecond, "the first handshake gives the fetch its head start")
	assert.Less(t, first, time.Second)
	v, later := r.watch(p.goodChain)
	assert.True(t, v.Stale)
	assert.Less(t, later, 50*time.Millisecond, "the fetch still hangs, but the window is over")
	assert.Equal(t, []string{ResultOK}, r.res.list(), "only the root's answer is in: the intermediate's fetch still hangs")
}

func TestFallbackURLAndIgnoredSchemes(t *testing.T) {
	s := newCRLServer(t)
	p := newPKI(t, s.URL, "ldap://ldap.example/cn=Fetch%20Intermediate%20CA?certificateRevocationList", s.URL+"/down.crl", s.URL+"/inter.crl")
	p.publish(t, s, p.revoked.Cert.SerialNumber)
	r := start(t, p, Options{})
	v, _ := r.watch(p.revokedChain)
	assert.True(t, v.Revoked)
	assert.Equal(t, []string{"/root.crl", "/down.crl", "/inter.crl"}, sortedFirst(s.requests()))
	assert.Equal(t, 1, strings.Count(r.logs.String(), "only http:// URLs are fetched"))
	r.watch(p.goodChain)
	assert.Equal(t, 1, strings.Count(r.logs.String(), "only http:// URLs are fetched"), "once per URL")

	// Only non-http distribution points: nothing is fetched, nothing covered.
	q := newPKI(t, s.URL, "ldap://ldap.example/x", "https://crl.example/x.crl", "file:///etc/x.crl")
	r2 := start(t, q, Options{Mode: ModeAll})
	r2.store.Learn(q.inter.Cert)
	r2.f.WatchChain(q.goodChain)
	st, _ := r2.store.Status(q.inter.Cert)
	assert.False(t, st.Covered)
}

// sortedFirst puts /root.crl (fetched concurrently) first, keeping the
// order of the rest.
func sortedFirst(reqs []string) []string {
	out := []string{}
	for _, r := range reqs {
		if r == "/root.crl" {
			out = append([]string{r}, out...)
		} else {
			out = append(out, r)
		}
	}
	return out
}

func TestCacheSurvivesARestartAndRefusesTampering(t *testing.T) {
	s := newCRLServer(t)
	p := newPKI(t, s.URL)
	p.publish(t, s, p.revoked.Cert.SerialNumber)
	dir := filepath.Join(t.TempDir(), "cache")
	r := start(t, p, Options{CacheDir: dir})
	v, _ := r.watch(p.revokedChain)
	require.True(t, v.Revoked)
	st, err := os.Stat(dir)
	require.NoError(t, err)
	if os.PathSeparator == '/' {
		assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	}
	interName := filepath.Join(dir, entryName(p.interURL))
	require.Eventually(t, func() bool { _, err := os.Stat(interName + ".json"); return err == nil }, 2*time.Second, 10*time.Millisecond)
	for _, ext := range []string{".crl", ".json"} {
		st, err := os.Stat(interName + ext)
		require.NoError(t, err)
		if os.PathSeparator == '/' {
			assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), ext)
		}
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, ".*"))
	assert.Empty(t, tmps, "no temporary files left")
	s.Close() // from now on the distribution points are down

	// A restart with the distribution points down starts with the cached
	// CRLs: the revocation holds, and a first chain does not wait.
	r2 := start(t, p, Options{CacheDir: dir, Wait: 2 * time.Second, RetryMin: time.Hour})
	v, waited := r2.watch(p.revokedChain)
	assert.True(t, v.Revoked)
	assert.False(t, v.Stale)
	assert.Less(t, waited, 5*time.Millisecond)
	assert.Contains(t, r2.logs.String(), "accepted=2")

	// Tampering: a flipped byte in a CRL, a record naming a foreign issuer.
	crl, err := os.ReadFile(interName + ".crl")
	require.NoError(t, err)
	crl[len(crl)-5] ^= 0xff
	require.NoError(t, os.WriteFile(interName+".crl", crl, 0o600))
	stranger, err := testpki.NewRoot("Fetch Root CA")
	require.NoError(t, err)
	rootName := filepath.Join(dir, entryName(p.rootU))
	rec, err := os.ReadFile(rootName + ".json")
	require.NoError(t, err)
	var buf bytes.Buffer
	buf.Write(bytes.Replace(rec, []byte(b64(p.root.Cert.Raw)), []byte(b64(stranger.Cert.Raw)), 1))
	require.NoError(t, os.WriteFile(rootName+".json", buf.Bytes(), 0o600))
	r3 := start(t, p, Options{CacheDir: dir, Wait: 100 * time.Millisecond, RetryMin: time.Hour})
	logs := r3.logs.String()
	assert.Contains(t, logs, "CRL cache entry refused")
	assert.Contains(t, logs, "signature does not verify")
	assert.Contains(t, logs, "no issuer certificate chains to a trust anchor")
	assert.Contains(t, logs, "accepted=0")
	v, _ = r3.watch(p.revokedChain)
	assert.False(t, v.Revoked, "the tampered CRL was not believed")
	assert.True(t, v.Stale, "and the issuer is covered: the policy decides")
}

func TestCacheDirectoryMustBePrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("!!! SKIPPED: Windows has no group/other mode bits; the directory's ACL is the operator's")
	}
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o777))
	leftover := filepath.Join(dir, ".abc.crl.123.tmp")
	require.NoError(t, os.WriteFile(leftover, []byte("half"), 0o600))
	store := revocation.NewStore(revocation.Options{})
	f, err := New(Options{Store: store, Mode: ModeAll, CacheDir: dir})
	require.NoError(t, err)
	assert.ErrorContains(t, f.LoadCache(), "writable by group or others (mode -rwxrwxrwx): make it 0700")
	require.NoError(t, os.Chmod(dir, 0o700))
	require.NoError(t, f.LoadCache())
	assert.NoFileExists(t, leftover, "a crashed write's temporary file is removed")
}

func TestSchedule(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name     string
		got      func() time.Duration
		min, max time.Duration
	}{
		{"refresh halfway to a near nextUpdate", func() time.Duration { return refreshDelay(now, now.Add(20*time.Minute), time.Hour) }, 8 * time.Minute, 10 * time.Minute},
		{"refresh at most RefreshMax apart", func() time.Duration { return refreshDelay(now, now.Add(7*24*time.Hour), time.Hour) }, 48 * time.Minute, time.Hour},
		{"never faster than a second", func() time.Duration { return refreshDelay(now, now.Add(time.Millisecond), time.Hour) }, time.Second, time.Second},
		{"first retry", func() time.Duration { return retryDelay(1, 2*time.Second, 5*time.Minute) }, 1600 * time.Millisecond, 2 * time.Second},
		{"backoff doubles", func() time.Duration { return retryDelay(4, 2*time.Second, 5*time.Minute) }, 12800 * time.Millisecond, 16 * time.Second},
		{"backoff is capped", func() time.Duration { return retryDelay(60, 2*time.Second, 5*time.Minute) }, 4 * time.Minute, 5 * time.Minute},
	} {
		for range 50 {
			d := tc.got()
			require.GreaterOrEqual(t, d, tc.min, tc.name)
			require.LessOrEqual(t, d, tc.max, tc.name)
		}
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"": ModeOff, "off": ModeOff, "false": ModeOff, "ca": ModeCA, "all": ModeAll, "true": ModeAll} {
		m, err := ParseMode(in)
		require.NoError(t, err)
		assert.Equal(t, want, m)
	}
	_, err := ParseMode("leaf")
	assert.ErrorContains(t, err, "want off, ca or all")
}

// numberedCRL is a CRL of a with CRL number n (testpki's are random, and
// a lower number is older evidence).
func numberedCRL(t *testing.T, a *testpki.Authority, n *big.Int, thisUpdate time.Time, revoked ...*big.Int) []byte {
	t.Helper()
	tmpl := &x509.RevocationList{Number: n, ThisUpdate: thisUpdate, NextUpdate: thisUpdate.Add(24 * time.Hour)}
	for _, s := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: thisUpdate})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, a.Cert, a.Key)
	require.NoError(t, err)
	return der
}

func b64(der []byte) string { return base64.StdEncoding.EncodeToString(der) }

// BenchmarkWatchChainKnown is what fetching adds to every handshake once
// its distribution points are known: go test -bench WatchChain ./edge/crlfetch/
func BenchmarkWatchChainKnown(b *testing.B) {
	root, err := testpki.NewRoot("Bench Root CA")
	require.NoError(b, err)
	inter, err := root.NewIntermediateWith("Bench Intermediate CA", testpki.Options{CRLDistributionPoints: []string{"http://127.0.0.1:1/root.crl"}})
	require.NoError(b, err)
	leaf, err := inter.Issue(testpki.Options{CRLDistributionPoints: []string{"http://127.0.0.1:1/inter.crl"}})
	require.NoError(b, err)
	store := revocation.NewStore(revocation.Options{Issuers: []*x509.Certificate{root.Cert, inter.Cert}})
	f, err := New(Options{Store: store, Mode: ModeAll, Wait: time.Millisecond})
	require.NoError(b, err)
	chain := []*x509.Certificate{leaf.Cert, inter.Cert, root.Cert}
	f.WatchChain(chain) // not running: waits once, then the jobs are known
	for _, j := range f.jobs {
		j.firstDone.Store(true)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f.WatchChain(chain)
	}
}

// BenchmarkAccept10k is the CPU a fetched CRL of 10,000 entries costs
// (parse, signature, acceptance, revoked set): what the first handshake
// through an issuer waits for besides the network.
func BenchmarkAccept10k(b *testing.B) {
	root, err := testpki.NewRoot("Bench Root CA")
	require.NoError(b, err)
	serials := make([]*big.Int, 10000)
	for i := range serials {
		serials[i] = big.NewInt(int64(1_000_000 + i))
	}
	der, err := root.CurrentCRL(serials...)
	require.NoError(b, err)
	b.SetBytes(int64(len(der)))
	b.ReportAllocs()
	for b.Loop() {
		store := revocation.NewStore(revocation.Options{Issuers: []*x509.Certificate{root.Cert}})
		f, err := New(Options{Store: store, Mode: ModeAll})
		require.NoError(b, err)
		j := f.addJob([]string{"http://127.0.0.1:1/root.crl"}, root.Cert)
		if _, err := f.accept(j, der, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

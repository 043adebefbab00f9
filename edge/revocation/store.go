package revocation

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certsight/certsight/internal/enum"
)

// Reasons a CRL is refused; Offer wraps them with the details.
var (
	ErrParse         = errors.New("not a parsable CRL")
	ErrUnknownIssuer = errors.New("issuer matches no trust anchor or intermediate")
	ErrSignature     = errors.New("signature does not verify with the issuer's key")
	ErrOlder         = errors.New("older than the CRL in use")
	ErrUnsupported   = errors.New("unsupported CRL")
)

// Policy says what an issuer whose revocation data is not current means for
// the certificates it issued (--revocation-fail).
type Policy int

const (
	// FailClosed treats them as not verified ("CRL has expired").
	FailClosed Policy = iota
	// FailOpen treats them as verified and not revoked (known revocations
	// still count).
	FailOpen
)

// policyNames spells the policies as --revocation-fail takes them; empty
// is closed, and so is (and prints) any value but FailOpen.
var policyNames = enum.Names[Policy]{Type: "Policy", What: "revocation-fail policy", Words: []string{"closed", "open"},
	Aliases: map[string]Policy{"": FailClosed}, Else: "closed"}

// ParsePolicy reads a --revocation-fail value.
func ParsePolicy(s string) (Policy, error) { return policyNames.Parse(s) }

func (p Policy) String() string { return policyNames.String(p) }

// reasonCertificateHold is the CRLReason a newer CRL may drop (a released hold).
const reasonCertificateHold = 6

// issuer is a CA whose CRLs the store can accept.
type issuer struct {
	cert *x509.Certificate
	name string // CanonicalName of the subject
}

// state is one issuer's revocation data. A published state is never
// changed, except for the warned flag.
type state struct {
	iss     *issuer
	covered bool     // revocation checking is expected for this issuer
	crl     *crlInfo // the CRL in use; nil: none yet
	// revoked holds every serial any accepted CRL of the issuer listed, with
	// its reason code; a newer CRL adds to it (CRLs are cumulative, and a
	// serial a CA stopped listing was still revoked), except that released
	// holds go.
	revoked map[string]int
	warned  atomic.Bool // staleness was logged
}

type crlInfo struct {
	thisUpdate, nextUpdate time.Time
	number                 *big.Int
	source                 string
	hash                   [32]byte
}

func (st *state) current(now time.Time) bool {
	return st.crl != nil && now.Before(st.crl.nextUpdate)
}

// snapshot is everything Check reads; it is replaced, never changed.
type snapshot struct {
	bySPKI map[string][]*state // string(RawSubjectPublicKeyInfo)
	byName map[string][]*state // canonical subject name
	all    []*state
}

// Options configure a Store.
type Options struct {
	// Issuers are the certificates whose CRLs are accepted at first: the
	// trust anchors and configured intermediates. Intermediates of verified
	// chains are added later with Learn.
	Issuers []*x509.Certificate
	// Logger receives accepted CRLs (Info) and staleness (Warn); nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Store is the revocation state of every known issuer: at most one CRL in
// use per issuer, replaced only by better evidence, plus every serial an
// accepted CRL ever listed. It is safe for concurrent use; Check reads a
// snapshot without locking.
type Store struct {
	log  *slog.Logger
	now  func() time.Time
	mu   sync.Mutex // serialises writers
	snap atomic.Pointer[snapshot]
	gen  atomic.Uint64
}

// NewStore returns a store knowing opts.Issuers (certificates that cannot
// be an issuer — bad names — are skipped).
func NewStore(opts Options) *Store {
	s := &Store{log: opts.Logger, now: opts.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.snap.Store(&snapshot{bySPKI: map[string][]*state{}, byName: map[string][]*state{}})
	for _, c := range opts.Issuers {
		s.Learn(c)
	}
	return s
}

// Generation changes whenever a CRL is accepted, an issuer becomes covered,
// or a covered issuer's CRL goes stale (seen by Tick). A connection that
// cached a result checks it per request: one atomic load.
func (s *Store) Generation() uint64 {
	if s == nil {
		return 0
	}
	return s.gen.Load()
}

// Touch changes the generation without changing the store: a source of
// revocation facts kept elsewhere (OCSP answers) calls it when a fact
// changed, so open connections look again.
func (s *Store) Touch() { s.gen.Add(1) }

// find returns the state for issuer certificate c, or nil.
func (sn *snapshot) find(c *x509.Certificate) *state {
	sts := sn.bySPKI[string(c.RawSubjectPublicKeyInfo)]
	if len(sts) == 0 {
		return nil
	}
	for _, st := range sts {
		if bytes.Equal(st.iss.cert.RawSubject, c.RawSubject) {
			return st
		}
	}
	name, err := CanonicalName(c.RawSubject)
	if err != nil {
		return nil
	}
	for _, st := range sts {
		if st.iss.name == name {
			return st
		}
	}
	return nil
}

// replace publishes a snapshot where old is swapped for next (old nil:
// next is added). Callers hold s.mu.
func (s *Store) replace(old, next *state) {
	cur := s.snap.Load()
	sn := &snapshot{bySPKI: make(map[string][]*state, len(cur.bySPKI)+1), byName: make(map[string][]*state, len(cur.byName)+1)}
	for _, st := range cur.all {
		if st == old {
			continue
		}
		sn.add(st)
	}
	sn.add(next)
	s.snap.Store(sn)
	s.gen.Add(1)
}

func (sn *snapshot) add(st *state) {
	k := string(st.iss.cert.RawSubjectPublicKeyInfo)
	sn.bySPKI[k] = append(sn.bySPKI[k], st)
	sn.byName[st.iss.name] = append(sn.byName[st.iss.name], st)
	sn.all = append(sn.all, st)
}

// Learn adds c as a possible CRL issuer (an intermediate of a verified
// chain, say) and reports whether it was new. Certificates that are not CAs
// (v3 without cA) are ignored.
func (s *Store) Learn(c *x509.Certificate) bool {
	if c == nil || !c.IsCA && c.Version >= 3 { // v1 roots exist; v3 CAs say so
		return false
	}
	if s.snap.Load().find(c) != nil {
		return false
	}
	name, err := CanonicalName(c.RawSubject)
	if err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.snap.Load().find(c) != nil {
		return false
	}
	s.replace(nil, &state{iss: &issuer{cert: c, name: name}})
	return true
}

// Cover says revocation data is expected for c (a CRL will be fetched):
// until a CRL is accepted, c's certificates are under the fail policy.
func (s *Store) Cover(c *x509.Certificate) {
	s.Learn(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.snap.Load().find(c)
	if st == nil || st.covered {
		return
	}
	s.replace(st, &state{iss: st.iss, covered: true, crl: st.crl, revoked: st.revoked})
}

// Issuers returns every known issuer certificate.
func (s *Store) Issuers() []*x509.Certificate {
	sn := s.snap.Load()
	out := make([]*x509.Certificate, len(sn.all))
	for i, st := range sn.all {
		out[i] = st.iss.cert
	}
	return out
}

// Offer parses a DER CRL and accepts it if it is better evidence than the
// one in use for its issuer; see OfferList.
func (s *Store) Offer(der []byte, source string) (bool, error) {
	l, err := x509.ParseRevocationList(der)
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrParse, err)
	}
	return s.OfferList(l, source)
}

var (
	oidDeltaCRLIndicator   = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidIssuingDistribution = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidCRLNumber           = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidAuthorityKeyID      = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidFreshestCRL         = asn1.ObjectIdentifier{2, 5, 29, 46}
	oidIssuerAltName       = asn1.ObjectIdentifier{2, 5, 29, 18}
	oidCertificateIssuer   = asn1.ObjectIdentifier{2, 5, 29, 29}
)

// checkScope refuses CRLs that do not cover every certificate of their
// issuer: a delta, partitioned or indirect CRL taken for a complete one
// would make revoked certificates look good.
func checkScope(l *x509.RevocationList) error {
	for _, e := range l.Extensions {
		switch {
		case e.Id.Equal(oidDeltaCRLIndicator):
			return fmt.Errorf("%w: delta CRLs are not supported", ErrUnsupported)
		case e.Id.Equal(oidIssuingDistribution):
			if err := checkIDP(e.Value); err != nil {
				return err
			}
		case e.Id.Equal(oidCRLNumber), e.Id.Equal(oidAuthorityKeyID), e.Id.Equal(oidFreshestCRL), e.Id.Equal(oidIssuerAltName):
		case e.Critical:
			return fmt.Errorf("%w: unknown critical extension %s", ErrUnsupported, e.Id)
		}
	}
	for _, r := range l.RevokedCertificateEntries {
		for _, e := range r.Extensions {
			if e.Id.Equal(oidCertificateIssuer) {
				return fmt.Errorf("%w: indirect CRLs are not supported", ErrUnsupported)
			}
		}
	}
	return nil
}

// checkIDP accepts an issuingDistributionPoint that names only the
// distribution point: any of onlyContainsUserCerts [1],
// onlyContainsCACerts [2], onlySomeReasons [3], indirectCRL [4] or
// onlyContainsAttributeCerts [5] narrows the CRL's scope.
func checkIDP(der []byte) error {
	var seq asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &seq); err != nil || len(rest) != 0 || seq.Tag != asn1.TagSequence {
		return fmt.Errorf("%w: malformed issuingDistributionPoint", ErrParse)
	}
	in := seq.Bytes
	for len(in) > 0 {
		var f asn1.RawValue
		var err error
		if in, err = asn1.Unmarshal(in, &f); err != nil {
			return fmt.Errorf("%w: malformed issuingDistributionPoint", ErrParse)
		}
		if f.Class == asn1.ClassContextSpecific && f.Tag != 0 {
			return fmt.Errorf("%w: partitioned CRL (issuingDistributionPoint field [%d])", ErrUnsupported, f.Tag)
		}
	}
	return nil
}

func serialKey(n *big.Int) string {
	if n.Sign() < 0 {
		return "-" + string(n.Bytes())
	}
	return string(n.Bytes())
}

// OfferList accepts l for its issuer when it parses as a complete CRL
// (not delta, partitioned or indirect; with a nextUpdate), its issuer name
// matches a known issuer as X.509 compares names (and its authority key
// identifier that issuer's subject key identifier, when both are present),
// that issuer's key verifies its signature, and it is not older — by
// thisUpdate, then CRL number — than the CRL in use. It reports whether the
// state changed: offering the CRL in use again is (false, nil). The issuer
// becomes covered.
func (s *Store) OfferList(l *x509.RevocationList, source string) (bool, error) {
	if err := checkScope(l); err != nil {
		return false, err
	}
	if l.NextUpdate.IsZero() {
		return false, fmt.Errorf("%w: no nextUpdate", ErrUnsupported)
	}
	name, err := CanonicalName(l.RawIssuer)
	if err != nil {
		return false, fmt.Errorf("%w: issuer name: %v", ErrParse, err)
	}
	cands := s.snap.Load().byName[name]
	if len(cands) == 0 {
		return false, fmt.Errorf("%w: %s", ErrUnknownIssuer, l.Issuer)
	}
	var iss *issuer
	for _, st := range cands {
		c := st.iss.cert
		if len(l.AuthorityKeyId) > 0 && len(c.SubjectKeyId) > 0 && !bytes.Equal(l.AuthorityKeyId, c.SubjectKeyId) {
			continue
		}
		if l.CheckSignatureFrom(c) == nil {
			iss = st.iss
			break
		}
	}
	if iss == nil {
		return false, fmt.Errorf("%w: %s", ErrSignature, l.Issuer)
	}
	info := &crlInfo{thisUpdate: l.ThisUpdate, nextUpdate: l.NextUpdate, number: l.Number, source: source, hash: sha256.Sum256(l.Raw)}

	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.snap.Load().find(iss.cert)
	if old == nil { // cannot happen: issuers are never removed
		return false, fmt.Errorf("%w: %s", ErrUnknownIssuer, l.Issuer)
	}
	if cur := old.crl; cur != nil {
		if cur.hash == info.hash {
			return false, nil
		}
		if l.ThisUpdate.Before(cur.thisUpdate) {
			return false, fmt.Errorf("%w: thisUpdate %s is before %s", ErrOlder, l.ThisUpdate.UTC().Format(time.RFC3339), cur.thisUpdate.UTC().Format(time.RFC3339))
		}
		if l.Number != nil && cur.number != nil && l.Number.Cmp(cur.number) < 0 {
			return false, fmt.Errorf("%w: CRL number %s is below %s", ErrOlder, l.Number, cur.number)
		}
	}
	revoked := make(map[string]int, len(l.RevokedCertificateEntries)+len(old.revoked))
	for _, r := range l.RevokedCertificateEntries {
		if r.SerialNumber != nil {
			revoked[serialKey(r.SerialNumber)] = r.ReasonCode
		}
	}
	kept := 0
	for k, reason := range old.revoked {
		if _, ok := revoked[k]; !ok && reason != reasonCertificateHold {
			revoked[k] = reason
			kept++
		}
	}
	next := &state{iss: iss, covered: true, crl: info, revoked: revoked}
	s.replace(old, next)
	now := s.now()
	s.log.Info("CRL accepted", "issuer", iss.cert.Subject.String(), "source", source,
		"this_update", l.ThisUpdate, "next_update", l.NextUpdate, "number", l.Number,
		"entries", len(l.RevokedCertificateEntries), "kept_from_earlier", kept)
	if !next.current(now) {
		next.warned.Store(true)
		s.log.Warn("accepted CRL is already past its nextUpdate: no current revocation data for this issuer",
			"issuer", iss.cert.Subject.String(), "source", source, "next_update", l.NextUpdate)
	}
	return true, nil
}

// Verdict is the revocation outcome for one verified chain.
type Verdict struct {
	// Revoked: an accepted CRL (current or not) lists the certificate at
	// RevokedIndex in the chain.
	Revoked      bool
	RevokedIndex int
	// Stale: some certificate of the chain has a covered issuer without a
	// current CRL (StaleIssuer names the first, StaleIssuers every one).
	Stale        bool
	StaleIssuer  string
	StaleIssuers []string
	// Covered: some issuer of the chain is covered, so revocation data was
	// relied on (current or not); false means no CRL applies to the chain.
	Covered bool
	// Until is the earliest nextUpdate of the CRLs relied on (zero: none):
	// the verdict must be recomputed then.
	Until time.Time
	// Generation is the store's generation the verdict was computed at.
	Generation uint64
}

// Check looks up every certificate of chain (a verified chain, leaf first,
// ending at the trust anchor) in its issuer's revocation data. Known
// revocations always count, even from a CRL past its nextUpdate.
func (s *Store) Check(chain []*x509.Certificate, now time.Time) Verdict {
	var v Verdict
	if s == nil {
		return v
	}
	v.Generation = s.gen.Load()
	sn := s.snap.Load()
	for i := 0; i+1 < len(chain); i++ {
		st := sn.find(chain[i+1])
		if st == nil || !st.covered {
			continue
		}
		v.Covered = true
		if _, ok := st.revoked[serialKey(chain[i].SerialNumber)]; ok {
			v.Revoked, v.RevokedIndex = true, i
			return v
		}
		if !st.current(now) {
			name := st.iss.cert.Subject.String()
			if !v.Stale {
				v.Stale, v.StaleIssuer = true, name
			}
			v.StaleIssuers = append(v.StaleIssuers, name)
			continue
		}
		if v.Until.IsZero() || st.crl.nextUpdate.Before(v.Until) {
			v.Until = st.crl.nextUpdate
		}
	}
	return v
}

// Tick logs, once per issuer, a covered issuer whose CRL went stale, and
// changes the generation so open connections look again.
func (s *Store) Tick(now time.Time) {
	changed := false
	for _, st := range s.snap.Load().all {
		if !st.covered {
			continue
		}
		if st.current(now) {
			st.warned.Store(false)
			continue
		}
		if st.warned.Swap(true) {
			continue
		}
		changed = true
		attrs := []any{"issuer", st.iss.cert.Subject.String()}
		if st.crl != nil {
			attrs = append(attrs, "next_update", st.crl.nextUpdate, "source", st.crl.source)
		}
		s.log.Warn("no current CRL for issuer: revocation data is stale", attrs...)
	}
	if changed {
		s.gen.Add(1)
	}
}

// IssuerStatus describes one issuer's revocation data.
type IssuerStatus struct {
	Issuer  string // subject DN
	Cert    *x509.Certificate
	Covered bool // revocation checking applies to its certificates
	HasCRL  bool
	Current bool // a CRL is in use and before its nextUpdate
	// The CRL in use (zero values without one).
	ThisUpdate, NextUpdate time.Time
	Number                 *big.Int
	Source                 string
	// Revoked counts the serials known revoked.
	Revoked int
}

func (st *state) status(now time.Time) IssuerStatus {
	is := IssuerStatus{Issuer: st.iss.cert.Subject.String(), Cert: st.iss.cert, Covered: st.covered,
		HasCRL: st.crl != nil, Current: st.current(now), Revoked: len(st.revoked)}
	if c := st.crl; c != nil {
		is.ThisUpdate, is.NextUpdate, is.Number, is.Source = c.thisUpdate, c.nextUpdate, c.number, c.source
	}
	return is
}

// Status returns the status of issuer c; ok is false for an unknown issuer.
func (s *Store) Status(c *x509.Certificate) (IssuerStatus, bool) {
	st := s.snap.Load().find(c)
	if st == nil {
		return IssuerStatus{}, false
	}
	return st.status(s.now()), true
}

// Statuses returns every known issuer's status, covered ones first, then by
// name.
func (s *Store) Statuses() []IssuerStatus {
	now := s.now()
	sn := s.snap.Load()
	out := make([]IssuerStatus, 0, len(sn.all))
	for _, st := range sn.all {
		out = append(out, st.status(now))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Covered != out[j].Covered {
			return out[i].Covered
		}
		return out[i].Issuer < out[j].Issuer
	})
	return out
}

package posture

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/certsight/certsight/cert"
	"github.com/certsight/certsight/stores"
)

// Scanner finds candidate certificates; *scan.Scanner satisfies it.
type Scanner interface {
	// Paths reads files, directories, globs and store files by content.
	Paths(ctx context.Context, paths []string, kinds ...stores.Kind) stores.Seq
	// DefaultsAt reads the platform's default stores of one location.
	DefaultsAt(ctx context.Context, loc stores.Location, kinds ...stores.Kind) stores.Seq
}

// Identity answers ${hostname} and ${serial_number}; *identity.Device
// satisfies it.
type Identity interface {
	Hostname() (string, error)
	SerialNumber(ctx context.Context) (string, error)
}

// Env is what evaluation needs from outside.
type Env struct {
	Scanner Scanner
	Device  Identity
	// Now is the clock for validity checks (time.Now when nil).
	Now func() time.Time
	// GOOS is the running OS as runtime.GOOS spells it (runtime.GOOS when "").
	GOOS string
	// Logger receives per-item read errors (discarded when nil).
	Logger *slog.Logger
}

func (e Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e Env) goos() string {
	if e.GOOS != "" {
		return e.GOOS
	}
	return runtime.GOOS
}

// Result is one rule's verdict, one cert_posture row.
type Result struct {
	Rule            string
	CertificateID   string
	OperatingSystem string
	// Evaluated is false for a rule meant for another OS; such a rule has
	// neither passed nor failed (passed is NULL in the table).
	Evaluated bool
	Passed    bool
	// Reason is empty when Passed; otherwise what failed, in words.
	Reason        string
	ExpectedCN    string
	MatchedSHA256 string
	MatchedPath   string
	MatchedStore  string
	// Candidates counts the certificates examined.
	Candidates int
}

// maxNearest bounds how many nearest candidates a reason describes.
const maxNearest = 3

// maxReadErrors bounds how many read errors a reason quotes.
const maxReadErrors = 3

// Evaluate runs every check of p (see EvaluateCheck), reading each location
// once even when several rules name it.
func (p Policy) Evaluate(ctx context.Context, env Env) []Result {
	env.Scanner = newMemo(env.Scanner)
	out := make([]Result, 0, len(p.Checks))
	for _, ck := range p.Checks {
		out = append(out, EvaluateCheck(ctx, ck, env))
	}
	return out
}

// EvaluateCheck decides one rule. It passes when one candidate from its
// locations satisfies every criterion, checked in this order: not the CA
// itself; directly issued by the rule's CA (signature check, no chain
// building); inside its validity period (unless switched off); common name
// equal to the expanded cn, ignoring case, or a UPN equal to it (when cn is
// set); every listed
// SAN present; every listed EKU present; and, with check_private_key, its
// own private key present: KeyMatched only (a link by identifier, an
// encrypted key whose private half was not checked, a mismatch or an
// unreadable key store all fail, each with its reason). A failed rule's reason describes its nearest candidates: those
// directly issued by the CA if any, then those failing the fewest checks.
func EvaluateCheck(ctx context.Context, ck Check, env Env) Result {
	res := evaluateCheck(ctx, ck, env)
	// Errors joined by errors.Join carry newlines; a table cell should not.
	res.Reason = strings.ReplaceAll(res.Reason, "\n", "; ")
	return res
}

func evaluateCheck(ctx context.Context, ck Check, env Env) Result {
	res := Result{Rule: ck.Name, CertificateID: ck.CertificateID, OperatingSystem: ck.OperatingSystem, Evaluated: true}
	if len(ck.Problems) > 0 {
		res.Reason = "invalid rule in config: " + ck.Problems.Error()
		return res
	}
	if running := osName(env.goos()); ck.OperatingSystem != "" && ck.OperatingSystem != running {
		res.Evaluated = false
		res.Reason = fmt.Sprintf("not evaluated: rule is for %s; this device runs %s", ck.OperatingSystem, orUnknown(running, env.goos()))
		return res
	} else if ck.OperatingSystem == "" {
		// A rule for any OS reports the one it was evaluated on.
		res.OperatingSystem = running
	}
	if env.Scanner == nil {
		res.Reason = "no certificate scanner configured"
		return res
	}
	var expandErrs []error
	expectedCN := ""
	if ck.CN != "" {
		cn, err := Expand(ctx, ck.CN, env.Device)
		if err != nil {
			expandErrs = append(expandErrs, fmt.Errorf("cn %q: %w", ck.CN, err))
		} else {
			expectedCN = cn
			res.ExpectedCN = cn
		}
	}
	var sans []string
	for _, s := range ck.SANs {
		v, err := Expand(ctx, s, env.Device)
		if err != nil {
			expandErrs = append(expandErrs, fmt.Errorf("subject alternative name %q: %w", s, err))
			continue
		}
		sans = append(sans, v)
	}

	found := collect(ctx, ck, env)
	logErrors(ctx, env.Logger, ck.Name, found.Errors)
	entries := found.Entries
	sortEntries(entries)
	res.Candidates = len(entries)

	if len(expandErrs) > 0 {
		// Never match against an empty or partial expansion.
		res.Reason = "cannot evaluate: " + joinErrs(expandErrs)
		return res
	}
	if len(entries) == 0 {
		res.Reason = "no certificates found in " + describeLocations(ck)
		if len(found.Errors) > 0 {
			res.Reason += "; " + describeReadErrors(found.Errors)
		}
		return res
	}

	now := env.now()
	verdicts := make([]verdict, len(entries))
	for i := range entries {
		v := judge(&entries[i], ck, expectedCN, sans, now)
		if len(v.failures) == 0 {
			e := entries[i]
			res.Passed = true
			res.MatchedSHA256 = e.Info.SHA256
			res.MatchedPath = e.Path
			res.MatchedStore = string(e.Store)
			return res
		}
		verdicts[i] = v
	}
	res.Reason = describeNearest(entries, verdicts)
	if len(found.Errors) > 0 {
		res.Reason += "; " + describeReadErrors(found.Errors)
	}
	return res
}

func orUnknown(name, goos string) string {
	if name == "" {
		return goos
	}
	return name
}

// Expand replaces ${serial_number} and ${hostname} in s. A variable whose
// value is unavailable is an error, never an empty string.
func Expand(ctx context.Context, s string, dev Identity) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	if err := ValidateCN(s); err != nil {
		return "", err
	}
	if strings.Contains(s, "${serial_number}") {
		if dev == nil {
			return "", errors.New("device serial number is unavailable: no device identity")
		}
		serial, err := dev.SerialNumber(ctx)
		if err != nil {
			return "", err
		}
		if serial == "" {
			return "", errors.New("device serial number is unavailable: empty")
		}
		s = strings.ReplaceAll(s, "${serial_number}", serial)
	}
	if strings.Contains(s, "${hostname}") {
		if dev == nil {
			return "", errors.New("host name is unavailable: no device identity")
		}
		h, err := dev.Hostname()
		if err != nil {
			return "", err
		}
		if h == "" {
			return "", errors.New("host name is unavailable: empty")
		}
		s = strings.ReplaceAll(s, "${hostname}", h)
	}
	return s, nil
}

// collect reads the rule's locations.
func collect(ctx context.Context, ck Check, env Env) stores.Result {
	var r stores.Result
	if len(ck.Paths) > 0 {
		r.Add(stores.Collect(env.Scanner.Paths(ctx, ck.Paths)))
	}
	for _, loc := range ck.TrustStores {
		r.Add(stores.Collect(env.Scanner.DefaultsAt(ctx, loc)))
	}
	return r
}

func sortEntries(es []stores.Entry) {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.Location != b.Location {
			return a.Location < b.Location
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Label != b.Label {
			return a.Label < b.Label
		}
		return a.Info.SHA256 < b.Info.SHA256
	})
}

type verdict struct {
	issuerOK bool
	failures []string
}

// nearer reports whether a is closer to passing than b: fewer failed
// checks, then (on a tie) issued by the CA.
func (a verdict) nearer(b verdict) bool {
	if len(a.failures) != len(b.failures) {
		return len(a.failures) < len(b.failures)
	}
	return a.issuerOK && !b.issuerOK
}

func judge(e *stores.Entry, ck Check, expectedCN string, sans []string, now time.Time) verdict {
	var v verdict
	c := e.Certificate
	for _, ca := range ck.CA.Certificates {
		if c != nil && c.Equal(ca) {
			return verdict{failures: []string{fmt.Sprintf("is the certificate of CA %q itself, not one it issued", ck.CA.Label())}}
		}
	}
	v.issuerOK = issuedBy(c, ck.CA.Certificates)
	if !v.issuerOK {
		v.failures = append(v.failures, issuerFailure(c, e.Info, ck.CA))
	}
	if ck.CheckValidity {
		switch {
		case now.Before(e.Info.NotBefore):
			v.failures = append(v.failures, "not valid until "+cert.FormatTime(e.Info.NotBefore))
		case now.After(e.Info.NotAfter):
			v.failures = append(v.failures, "expired on "+cert.FormatTime(e.Info.NotAfter))
		}
	}
	if expectedCN != "" && !strings.EqualFold(e.Info.CommonName, expectedCN) && !hasUPN(e.Info, expectedCN) {
		if e.Info.CommonName == "" {
			v.failures = append(v.failures, fmt.Sprintf("has no common name (want %q)", expectedCN))
		} else {
			v.failures = append(v.failures, fmt.Sprintf("common name %q is not %q", e.Info.CommonName, expectedCN))
		}
	}
	for _, want := range sans {
		if !hasSAN(e.Info, want) {
			v.failures = append(v.failures, fmt.Sprintf("lacks subject alternative name %q", want))
		}
	}
	var missing []string
	for _, u := range ck.EKUs {
		if !e.Info.HasExtKeyUsage(u) {
			missing = append(missing, u)
		}
	}
	if len(missing) > 0 {
		has := "none"
		if len(e.Info.ExtKeyUsage) > 0 {
			has = strings.Join(e.Info.ExtKeyUsage, ",")
		}
		v.failures = append(v.failures, fmt.Sprintf("lacks extended key usage %s (has %s)", strings.Join(missing, ","), has))
	}
	if ck.CheckPrivateKey {
		if f := keyFailure(e); f != "" {
			v.failures = append(v.failures, f)
		}
	}
	return v
}

func issuedBy(c *x509.Certificate, cas []*x509.Certificate) bool {
	for _, ca := range cas {
		if cert.IssuedBy(c, ca) {
			return true
		}
	}
	return false
}

func issuerFailure(c *x509.Certificate, info cert.Info, ca CA) string {
	for _, x := range ca.Certificates {
		if c != nil && string(c.RawIssuer) == string(x.RawSubject) {
			return fmt.Sprintf("not issued by CA %q: the issuer name matches but the signature does not verify with the CA's key (a look-alike CA)", ca.Label())
		}
	}
	return fmt.Sprintf("not issued directly by CA %q: its issuer is %q", ca.Label(), info.Issuer)
}

// hasUPN reports whether one of the certificate's user principal names
// (SAN otherName 1.3.6.1.4.1.311.20.2.3) equals want, ignoring case: Windows
// fleets name a user's certificate by UPN, often with a CN that is only a
// display name.
func hasUPN(info cert.Info, want string) bool {
	for _, u := range info.UPNs {
		if strings.EqualFold(u, want) {
			return true
		}
	}
	return false
}

func hasSAN(info cert.Info, want string) bool {
	for _, s := range info.SubjectAltNames() { // "DNS:a.example", "email:x@example", …
		_, v, _ := strings.Cut(s, ":")
		if strings.EqualFold(s, want) || strings.EqualFold(v, want) {
			return true
		}
	}
	return false
}

func keyFailure(e *stores.Entry) string {
	switch e.Key {
	case stores.KeyMatched:
		return ""
	case stores.KeyLocked:
		return "its private key is encrypted, so it cannot be confirmed to belong to the certificate"
	case stores.KeyLinked:
		return "its store only links a private key to it (" + keyNote(e) + "); no key material was checked"
	case stores.KeyUnknown:
		return "its key store could not be read (" + keyNote(e) + ")"
	case stores.KeyMismatch:
		return "the private key found with it belongs to another certificate"
	}
	return "no private key found for it"
}

func keyNote(e *stores.Entry) string {
	if e.KeyNote == "" {
		return "no detail"
	}
	return e.KeyNote
}

func describeEntry(e stores.Entry) string {
	var b strings.Builder
	if e.Location != stores.LocationPath && e.Store != "" {
		b.WriteString(string(e.Store) + " ")
	}
	b.WriteString(e.Path)
	if e.Label != "" {
		fmt.Fprintf(&b, " %q", e.Label)
	}
	if e.Username != "" && e.Location == stores.LocationUser {
		fmt.Fprintf(&b, " of %s", e.Username)
	}
	cn := e.Info.CommonName
	if cn == "" {
		cn = e.Info.Subject
	}
	fmt.Fprintf(&b, " (CN=%s, serial %s)", cn, e.Info.Serial)
	return b.String()
}

func describeNearest(entries []stores.Entry, vs []verdict) string {
	best := 0
	for i := range vs {
		if vs[i].nearer(vs[best]) {
			best = i
		}
	}
	var near []int
	for i := range vs {
		if !vs[best].nearer(vs[i]) && !vs[i].nearer(vs[best]) {
			near = append(near, i)
		}
	}
	var parts []string
	for k, i := range near {
		if k == maxNearest {
			parts = append(parts, fmt.Sprintf("and %d more like them", len(near)-maxNearest))
			break
		}
		parts = append(parts, describeEntry(entries[i])+": "+strings.Join(vs[i].failures, "; "))
	}
	head := "the certificate found did not pass: "
	if len(entries) > 1 {
		head = fmt.Sprintf("none of %d certificates passed; nearest: ", len(entries))
	}
	return head + strings.Join(parts, " | ")
}

func describeLocations(ck Check) string {
	var parts []string
	if len(ck.Paths) > 0 {
		parts = append(parts, "paths "+strings.Join(ck.Paths, ", "))
	}
	for _, l := range ck.TrustStores {
		parts = append(parts, "the "+string(l)+" trust stores")
	}
	return strings.Join(parts, " and ")
}

func describeReadErrors(errs []error) string {
	var parts []string
	for i, err := range errs {
		if i == maxReadErrors {
			parts = append(parts, fmt.Sprintf("and %d more", len(errs)-maxReadErrors))
			break
		}
		parts = append(parts, err.Error())
	}
	return "could not read: " + strings.Join(parts, "; ")
}

func joinErrs(errs []error) string {
	s := make([]string, len(errs))
	for i, e := range errs {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

func logErrors(ctx context.Context, log *slog.Logger, rule string, errs []error) {
	if log == nil {
		return
	}
	for _, err := range errs {
		log.WarnContext(ctx, "posture: skipped unreadable item", "rule", rule, "err", err)
	}
}

// memo reads each location at most once per Policy.Evaluate.
type memo struct {
	s     Scanner
	cache map[string]stores.Result
}

func newMemo(s Scanner) Scanner {
	if s == nil {
		return nil
	}
	if _, ok := s.(*memo); ok {
		return s
	}
	return &memo{s: s, cache: map[string]stores.Result{}}
}

func (m *memo) Paths(ctx context.Context, paths []string, kinds ...stores.Kind) stores.Seq {
	key := fmt.Sprintf("paths\x00%q\x00%q", paths, kinds)
	return m.once(key, func() stores.Seq { return m.s.Paths(ctx, paths, kinds...) })
}

func (m *memo) DefaultsAt(ctx context.Context, loc stores.Location, kinds ...stores.Kind) stores.Seq {
	key := fmt.Sprintf("at\x00%s\x00%q", loc, kinds)
	return m.once(key, func() stores.Seq { return m.s.DefaultsAt(ctx, loc, kinds...) })
}

// once reads a location the first time it is asked for and replays it after.
func (m *memo) once(key string, read func() stores.Seq) stores.Seq {
	return func(yield func(stores.Entry, error) bool) {
		r, ok := m.cache[key]
		if !ok {
			r = stores.Collect(read())
			m.cache[key] = r
		}
		r.Seq()(yield)
	}
}

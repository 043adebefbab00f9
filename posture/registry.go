package posture

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/certsight/certsight/cert"
)

// UploadedOnLayout prints uploaded_on as the API does: RFC 3339, UTC,
// microseconds ("2022-11-22T17:32:30.467938Z").
const UploadedOnLayout = "2006-01-02T15:04:05.000000Z07:00"

var (
	uuidRe  = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	hex32Re = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)
)

// validID accepts a UUID (the form the posture docs show) or 32 hex digits
// (the form the mtls_certificates API example shows).
func validID(id string) bool { return uuidRe.MatchString(id) || hex32Re.MatchString(id) }

// NewUUID returns a random (version 4) UUID from crypto/rand.
func NewUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating a UUID: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b), nil
}

// DerivedID is the id of a registry entry that has none: a version 8 UUID
// (RFC 9562) made of the SHA-256 of the first certificate's DER, so it is
// the same on every read and every device.
func DerivedID(c *x509.Certificate) string {
	h := sha256.Sum256(c.Raw)
	var b [16]byte
	copy(b[:], h[:16])
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

func formatUUID(b [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// CA is a parsed registry entry.
type CA struct {
	ID           string
	Name         string
	IsCA         bool
	Certificates []*x509.Certificate
	PEM          string
	UploadedOn   string
}

// Label names the CA in reasons: its name, else its id.
func (c CA) Label() string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

// ParseCAPEM reads the certificates of a registry entry: PEM only, every
// block a CERTIFICATE, at least one. The certificates go through cert.Parse,
// the one certificate parser; only the policy (which blocks are allowed) is
// here.
func ParseCAPEM(text string) ([]*x509.Certificate, error) {
	data := []byte(text)
	types := cert.PEMTypes(data)
	if len(types) == 0 {
		if len(bytes.TrimSpace(data)) > 0 {
			return nil, errors.New("not PEM (want -----BEGIN CERTIFICATE----- blocks)")
		}
		return nil, errors.New("no certificate (want -----BEGIN CERTIFICATE----- blocks)")
	}
	for i, typ := range types {
		if typ != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is %q, want CERTIFICATE (never put a private key here)", i+1, typ)
		}
	}
	b, err := cert.Parse(data)
	if err != nil {
		return nil, err
	}
	if len(b.Problems) > 0 {
		return nil, errors.Join(b.Problems...)
	}
	if len(b.Certificates) == 0 {
		return nil, errors.New("no certificate (want -----BEGIN CERTIFICATE----- blocks)")
	}
	return b.Certificates, nil
}

// SignatureName names a signature algorithm as the mtls_certificates API
// does ("SHA256WithRSA", "ECDSAWithSHA256"): Go's constant name without
// the x509 prefix. Unknown algorithms print as Go's String().
func SignatureName(a x509.SignatureAlgorithm) string {
	switch a {
	case x509.MD2WithRSA:
		return "MD2WithRSA"
	case x509.MD5WithRSA:
		return "MD5WithRSA"
	case x509.SHA1WithRSA:
		return "SHA1WithRSA"
	case x509.SHA256WithRSA:
		return "SHA256WithRSA"
	case x509.SHA384WithRSA:
		return "SHA384WithRSA"
	case x509.SHA512WithRSA:
		return "SHA512WithRSA"
	case x509.SHA256WithRSAPSS:
		return "SHA256WithRSAPSS"
	case x509.SHA384WithRSAPSS:
		return "SHA384WithRSAPSS"
	case x509.SHA512WithRSAPSS:
		return "SHA512WithRSAPSS"
	case x509.DSAWithSHA1:
		return "DSAWithSHA1"
	case x509.DSAWithSHA256:
		return "DSAWithSHA256"
	case x509.ECDSAWithSHA1:
		return "ECDSAWithSHA1"
	case x509.ECDSAWithSHA256:
		return "ECDSAWithSHA256"
	case x509.ECDSAWithSHA384:
		return "ECDSAWithSHA384"
	case x509.ECDSAWithSHA512:
		return "ECDSAWithSHA512"
	case x509.PureEd25519:
		return "Ed25519"
	}
	return a.String()
}

// Response is the mtls_certificates API's result object for one CA; the
// mtls_certificates table prints the same fields.
type Response struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	CA           bool   `json:"ca"`
	Certificates string `json:"certificates"`
	// Issuer is RFC 2253, most specific first: "O=Example Inc.,L=California,ST=San Francisco,C=US".
	Issuer string `json:"issuer"`
	// Signature names the algorithm of the first certificate (SignatureName).
	Signature string `json:"signature"`
	// SerialNumber is the first certificate's serial in decimal.
	SerialNumber string `json:"serial_number"`
	// ExpiresOn is the first certificate's notAfter, RFC 3339 UTC.
	ExpiresOn  string `json:"expires_on"`
	UploadedOn string `json:"uploaded_on"`
	Type       string `json:"type"`
}

// Envelope is the API's response wrapper, as --add-ca prints it.
type Envelope struct {
	Success  bool     `json:"success"`
	Errors   []string `json:"errors"`
	Messages []string `json:"messages"`
	Result   Response `json:"result"`
}

// Response describes the CA as the upload API would.
func (c CA) Response() Response {
	r := Response{ID: c.ID, Name: c.Name, CA: c.IsCA, Certificates: c.PEM, UploadedOn: c.UploadedOn, Type: "custom"}
	if len(c.Certificates) > 0 {
		first := c.Certificates[0]
		r.Issuer = cert.NewInfo(first).Issuer
		r.Signature = SignatureName(first.SignatureAlgorithm)
		if first.SerialNumber != nil {
			r.SerialNumber = first.SerialNumber.String()
		}
		r.ExpiresOn = first.NotAfter.UTC().Format(time.RFC3339)
	}
	return r
}

// caFromEntry parses one registry entry; problems carry paths under prefix.
func caFromEntry(e MTLSCertificate, prefix string) (CA, Problems) {
	ca := CA{ID: e.ID, Name: e.Name, IsCA: e.CA, PEM: e.Certificates, UploadedOn: e.UploadedOn}
	var ps Problems
	if strings.TrimSpace(e.Certificates) == "" {
		ps = append(ps, Problem{prefix + ".certificates", "required (the CA certificate as one PEM string)"})
	} else if certs, err := ParseCAPEM(e.Certificates); err != nil {
		ps = append(ps, Problem{prefix + ".certificates", err.Error()})
	} else {
		ca.Certificates = certs
	}
	if e.ID != "" && !validID(e.ID) {
		ps = append(ps, Problem{prefix + ".id", fmt.Sprintf("%q is not a UUID", e.ID)})
	}
	if ca.ID == "" && len(ca.Certificates) > 0 {
		ca.ID = DerivedID(ca.Certificates[0])
	}
	if e.UploadedOn != "" {
		if _, err := time.Parse(time.RFC3339Nano, e.UploadedOn); err != nil {
			ps = append(ps, Problem{prefix + ".uploaded_on", fmt.Sprintf("%q is not an RFC 3339 time", e.UploadedOn)})
		}
	}
	return ca, ps
}

// AddCA registers the CA certificate(s) in pemData under name in the config
// at path (created when missing) and returns the API-shaped response.
//
// Concurrent AddCA calls (and processes) never lose an entry: the whole
// read–modify–write runs under an exclusive lock on a lock file beside the
// config (path + ".lock", left in place), and success is reported only
// once the entry is read back from the file. A symlinked config is written
// through to its target, which keeps its owner, group and mode (the file
// is replaced atomically: a temporary file in the target's directory, then
// rename). A config that does not decode is left alone. When the same
// certificates are already registered, nothing is written and the existing
// entry is returned with existing=true.
func AddCA(path string, pemData []byte, name string, now time.Time) (resp Response, existing bool, err error) {
	certs, err := ParseCAPEM(string(pemData))
	if err != nil {
		return Response{}, false, fmt.Errorf("reading the CA: %w", err)
	}
	for i, c := range certs {
		if !c.BasicConstraintsValid || !c.IsCA {
			return Response{}, false, fmt.Errorf("certificate %d (%s) is not a CA (basicConstraints CA:TRUE missing)", i+1, c.Subject)
		}
	}
	target, err := resolveLinks(path)
	if err != nil {
		return Response{}, false, err
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return Response{}, false, fmt.Errorf("creating %s: %w", filepath.Dir(target), err)
	}
	unlock, err := lockFile(target + ".lock")
	if err != nil {
		return Response{}, false, fmt.Errorf("locking %s: %w", target, err)
	}
	defer unlock()

	cfg := &Config{}
	var orig os.FileInfo
	data, err := os.ReadFile(target)
	switch {
	case err == nil:
		if cfg, err = Decode(data); err != nil {
			return Response{}, false, fmt.Errorf("%s is not a valid config, not changing it: %w", path, err)
		}
		if st, err := os.Stat(target); err == nil {
			orig = st
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return Response{}, false, fmt.Errorf("reading %s: %w", path, err)
	}
	for i, e := range cfg.MTLSCertificates {
		have, err := ParseCAPEM(e.Certificates)
		if err != nil || !sameCerts(have, certs) {
			continue
		}
		ca, _ := caFromEntry(e, fmt.Sprintf("mtls_certificates[%d]", i))
		return ca.Response(), true, nil
	}
	id, err := NewUUID()
	if err != nil {
		return Response{}, false, err
	}
	entry := MTLSCertificate{ID: id, Name: name, CA: true, Certificates: encodePEM(certs), UploadedOn: now.UTC().Format(UploadedOnLayout)}
	cfg.MTLSCertificates = append(cfg.MTLSCertificates, entry)
	if cfg.Rules == nil {
		cfg.Rules = []Rule{} // "rules": [] invites the first rule; null reads as broken
	}
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return Response{}, false, fmt.Errorf("encoding the config: %w", err)
	}
	if err := writeAtomic(target, append(out, '\n'), orig); err != nil {
		return Response{}, false, err
	}
	// Never report a write that is not in the file.
	if err := checkWritten(target, id); err != nil {
		return Response{}, false, err
	}
	ca, _ := caFromEntry(entry, "")
	return ca.Response(), false, nil
}

// resolveLinks follows symlinks at path to the file they name (which may
// not exist yet), so that a linked config is written through, not replaced
// by a regular file beside its link.
func resolveLinks(path string) (string, error) {
	p := path
	for range 40 {
		fi, err := os.Lstat(p)
		if errors.Is(err, os.ErrNotExist) {
			return p, nil
		}
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", path, err)
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			return p, nil
		}
		link, err := os.Readlink(p)
		if err != nil {
			return "", fmt.Errorf("reading the link %s: %w", p, err)
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(p), link)
		}
		p = link
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", path)
}

// checkWritten reads the config back and finds the entry with id.
func checkWritten(path, id string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s back: %w", path, err)
	}
	cfg, err := Decode(data)
	if err != nil {
		return fmt.Errorf("reading %s back: %w", path, err)
	}
	for _, e := range cfg.MTLSCertificates {
		if e.ID == id {
			return nil
		}
	}
	return fmt.Errorf("the new entry %s is not in %s after writing it (another writer?)", id, path)
}

func encodePEM(certs []*x509.Certificate) string {
	var b strings.Builder
	for _, c := range certs {
		b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	return strings.TrimRight(b.String(), "\n")
}

func sameCerts(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

// writeAtomic replaces path with data so a reader sees the old or the new
// file, never half of one. The new file gets orig's mode, owner and group
// (0644 and the writer's own for a new file).
func writeAtomic(path string, data []byte, orig os.FileInfo) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating a temporary file next to %s: %w", path, err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			_ = tmp.Close()
			_ = os.Remove(name)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	mode := os.FileMode(0o644)
	if orig != nil {
		mode = orig.Mode().Perm()
		if err := chownLike(tmp, orig); err != nil {
			return fmt.Errorf("keeping the owner of %s: %w", path, err)
		}
	}
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("setting the mode of %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", name, err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	ok = true
	return nil
}

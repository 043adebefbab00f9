package edge

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"net/netip"

	"github.com/certsight/certsight/cert"
	"github.com/certsight/certsight/edge/rules"
)

// numCertFields counts the cf.tls_client_auth.* fields, whose IDs come first
// in rules.CloudflareFields.
const numCertFields = rules.FieldCertChainRFC9440TooLarge + 1

// connInfo is everything the edge derives from one TLS connection's client
// certificate. It is computed once, on the connection's first request, and
// only read afterwards (by every request on the connection, concurrently for
// HTTP/2).
type connInfo struct {
	result Result
	str    [numCertFields]string
	flag   [numCertFields]bool
	view   TLSClientAuth
	remote netip.Addr
	// until is when result stops holding (UnixNano; 0: never).
	until int64

	// Legacy Cloudflare forwarding values; empty unless the certificate
	// verified and is not revoked.
	legacyDER    string
	legacySHA256 string

	// xfcc is certsight.xfcc, computed only when a ruleset reads it.
	xfcc string

	// cfg is the configuration the fields were computed under; requests
	// apply its rules, and a Reload makes them stale.
	cfg *config
}

// newConnInfo computes the fields from the presented certificates (leaf
// first, as sent) and the verification result.
func newConnInfo(peer []*x509.Certificate, res Result) *connInfo {
	ci := &connInfo{result: res}
	ci.flag[rules.FieldCertPresented] = res.Presented
	ci.flag[rules.FieldCertVerified] = res.Verified
	ci.flag[rules.FieldCertRevoked] = res.Verified && res.Revoked
	if len(peer) > 0 {
		leaf := peer[0]
		info := cert.NewInfo(leaf)
		s := &ci.str
		s[rules.FieldCertIssuerDN] = headerSafe(info.Issuer)
		s[rules.FieldCertSubjectDN] = headerSafe(info.Subject)
		s[rules.FieldCertIssuerDNRFC2253] = s[rules.FieldCertIssuerDN]
		s[rules.FieldCertSubjectDNRFC2253] = s[rules.FieldCertSubjectDN]
		s[rules.FieldCertIssuerDNLegacy] = headerSafe(info.IssuerLegacy)
		s[rules.FieldCertSubjectDNLegacy] = headerSafe(info.SubjectLegacy)
		s[rules.FieldCertSerial] = info.Serial
		s[rules.FieldCertFingerprintSHA1] = info.SHA1
		s[rules.FieldCertFingerprintSHA256] = info.SHA256
		s[rules.FieldCertNotBefore] = cert.FormatTime(info.NotBefore)
		s[rules.FieldCertNotAfter] = cert.FormatTime(info.NotAfter)
		s[rules.FieldCertSKI] = info.SubjectKeyID
		if issuer := issuerOf(peer, res); issuer != nil {
			ii := cert.NewInfo(issuer)
			s[rules.FieldCertIssuerSerial] = ii.Serial
			s[rules.FieldCertIssuerSKI] = ii.SubjectKeyID
		}
		if v := cert.EncodeClientCert(leaf.Raw); len(v) <= cert.MaxClientCertLen {
			s[rules.FieldCertRFC9440] = v
		} else {
			ci.flag[rules.FieldCertRFC9440TooLarge] = true
		}
		if ders := chainDERs(peer); len(ders) > 0 {
			if v := cert.EncodeClientCertChain(ders); len(v) <= cert.MaxClientCertChainLen {
				s[rules.FieldCertChainRFC9440] = v
			} else {
				ci.flag[rules.FieldCertChainRFC9440TooLarge] = true
			}
		}
		if res.Verified && !res.Revoked {
			ci.legacyDER = base64.StdEncoding.EncodeToString(leaf.Raw)
			ci.legacySHA256 = info.SHA256
		}
	}
	ci.view = ci.workersView()
	return ci
}

// headerSafe escapes the bytes a header value cannot carry (control
// characters: CR, LF, NUL, …) as \XX, the way OpenSSL prints them in RFC 2253
// names, so a DN holding them is forwarded instead of failing the request.
func headerSafe(v string) string {
	clean := true
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return v
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(v)+8)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 && c != '\t' || c == 0x7f {
			b = append(b, '\\', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

// issuerOf picks the leaf's direct issuer: from the verified chain when there
// is one (the trust anchor itself for a leaf issued by a root), otherwise the
// second presented certificate if it really signed the leaf, otherwise the
// leaf itself when it is self-signed.
func issuerOf(peer []*x509.Certificate, res Result) *x509.Certificate {
	if len(res.Chain) > 1 {
		return res.Chain[1]
	}
	if len(res.Chain) == 1 {
		return res.Chain[0]
	}
	if len(peer) > 1 && cert.IssuedBy(peer[0], peer[1]) {
		return peer[1]
	}
	if cert.IssuedBy(peer[0], peer[0]) {
		return peer[0]
	}
	return nil
}

// chainDERs is Client-Cert-Chain's content: the certificates as the client
// sent them, in its order, without the leaf and without self-issued ones
// (roots: the origin holds its trust anchors, RFC 9440 §2.3 lets them go, and
// Cloudflare's changelog says its chain field leaves the root out). The test
// compares names only: a signature check per presented certificate made a
// long chain cost a public-key operation each.
func chainDERs(peer []*x509.Certificate) [][]byte {
	var out [][]byte
	for _, c := range peer[1:] {
		if bytes.Equal(c.RawSubject, c.RawIssuer) {
			continue
		}
		out = append(out, c.Raw)
	}
	return out
}

// env is the rules.Env of one request: the connection's fields plus the
// request's own.
type env struct {
	ci     *connInfo
	host   string
	method string
	path   string
}

func (e *env) Bool(id int) bool {
	if id >= 0 && id < numCertFields {
		return e.ci.flag[id]
	}
	return false
}

func (e *env) String(id int) string {
	if id >= 0 && id < numCertFields {
		return e.ci.str[id]
	}
	switch id {
	case rules.FieldHTTPHost:
		return e.host
	case rules.FieldHTTPRequestMethod:
		return e.method
	case rules.FieldHTTPRequestURIPath:
		return e.path
	case rules.FieldXFCC:
		return e.ci.xfcc
	}
	return ""
}

func (e *env) IP(id int) netip.Addr {
	if id == rules.FieldIPSrc {
		return e.ci.remote
	}
	return netip.Addr{}
}

// Field returns the value of a cf.tls_client_auth field by ID, a Bool field
// as "true"/"false"; tests and logs use it.
func (ci *connInfo) field(id int) string {
	if id < 0 || id >= numCertFields {
		return ""
	}
	for _, b := range []int{rules.FieldCertPresented, rules.FieldCertVerified, rules.FieldCertRevoked, rules.FieldCertRFC9440TooLarge, rules.FieldCertChainRFC9440TooLarge} {
		if id == b {
			if ci.flag[id] {
				return "true"
			}
			return "false"
		}
	}
	return ci.str[id]
}

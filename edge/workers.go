package edge

import (
	"context"
	"net/http"

	"github.com/certsight/certsight/edge/rules"
)

// TLSClientAuth is the Workers-style view of a connection's client
// certificate, with the property names and string conventions of
// request.cf.tlsClientAuth: CertPresented and CertRevoked are "1"/"0",
// CertVerified is "SUCCESS", "NONE" or "FAILED:<reason>", the *TooLarge
// properties are booleans. Unlike Cloudflare's, CertVerified is
// "FAILED:certificate revoked" for a revoked certificate (CertRevoked "1"). The other values use the rules fields' formats
// (DNs as RFC 2253 without spaces, uppercase hex serial and SKI) — Cloudflare's
// own Workers examples disagree with each other there, the rules-field
// formats are the documented ones.
type TLSClientAuth struct {
	CertPresented            string `json:"certPresented"`
	CertVerified             string `json:"certVerified"`
	CertRevoked              string `json:"certRevoked"`
	CertIssuerDN             string `json:"certIssuerDN"`
	CertSubjectDN            string `json:"certSubjectDN"`
	CertIssuerDNRFC2253      string `json:"certIssuerDNRFC2253"`
	CertSubjectDNRFC2253     string `json:"certSubjectDNRFC2253"`
	CertIssuerDNLegacy       string `json:"certIssuerDNLegacy"`
	CertSubjectDNLegacy      string `json:"certSubjectDNLegacy"`
	CertSerial               string `json:"certSerial"`
	CertIssuerSerial         string `json:"certIssuerSerial"`
	CertSKI                  string `json:"certSKI"`
	CertIssuerSKI            string `json:"certIssuerSKI"`
	CertFingerprintSHA1      string `json:"certFingerprintSHA1"`
	CertFingerprintSHA256    string `json:"certFingerprintSHA256"`
	CertNotBefore            string `json:"certNotBefore"`
	CertNotAfter             string `json:"certNotAfter"`
	CertRFC9440              string `json:"certRFC9440"`
	CertRFC9440TooLarge      bool   `json:"certRFC9440TooLarge"`
	CertChainRFC9440         string `json:"certChainRFC9440"`
	CertChainRFC9440TooLarge bool   `json:"certChainRFC9440TooLarge"`
}

func oneZero(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (ci *connInfo) workersView() TLSClientAuth {
	s := &ci.str
	return TLSClientAuth{
		CertPresented:            oneZero(ci.flag[rules.FieldCertPresented]),
		CertVerified:             ci.result.Outcome(),
		CertRevoked:              oneZero(ci.flag[rules.FieldCertRevoked]),
		CertIssuerDN:             s[rules.FieldCertIssuerDN],
		CertSubjectDN:            s[rules.FieldCertSubjectDN],
		CertIssuerDNRFC2253:      s[rules.FieldCertIssuerDNRFC2253],
		CertSubjectDNRFC2253:     s[rules.FieldCertSubjectDNRFC2253],
		CertIssuerDNLegacy:       s[rules.FieldCertIssuerDNLegacy],
		CertSubjectDNLegacy:      s[rules.FieldCertSubjectDNLegacy],
		CertSerial:               s[rules.FieldCertSerial],
		CertIssuerSerial:         s[rules.FieldCertIssuerSerial],
		CertSKI:                  s[rules.FieldCertSKI],
		CertIssuerSKI:            s[rules.FieldCertIssuerSKI],
		CertFingerprintSHA1:      s[rules.FieldCertFingerprintSHA1],
		CertFingerprintSHA256:    s[rules.FieldCertFingerprintSHA256],
		CertNotBefore:            s[rules.FieldCertNotBefore],
		CertNotAfter:             s[rules.FieldCertNotAfter],
		CertRFC9440:              s[rules.FieldCertRFC9440],
		CertRFC9440TooLarge:      ci.flag[rules.FieldCertRFC9440TooLarge],
		CertChainRFC9440:         s[rules.FieldCertChainRFC9440],
		CertChainRFC9440TooLarge: ci.flag[rules.FieldCertChainRFC9440TooLarge],
	}
}

// TLSClientAuthFrom returns the client-certificate view of the connection a
// request arrived on, for handlers behind Middleware (or the proxy). ok is
// false outside Middleware. Without a client certificate (or without TLS)
// the view is Workers' placeholder: certPresented "0", certVerified "NONE",
// certRevoked "0", every other string empty.
func TLSClientAuthFrom(ctx context.Context) (TLSClientAuth, bool) {
	if st, _ := ctx.Value(connKey{}).(*connState); st != nil {
		if ci := st.loaded(); ci != nil {
			return ci.view, true
		}
	}
	if ci, _ := ctx.Value(infoKey{}).(*connInfo); ci != nil {
		return ci.view, true
	}
	return TLSClientAuth{}, false
}

// WorkersHeaderNames are the nine headers of Cloudflare's "mTLS with Workers"
// example, in its order, plus X-Cert-Revoked. The example's X-CERT-VERIFY
// reads tlsClientAuth.certVerify, a property that does not exist (so it is
// always undefined there); this preset sends certVerified, which is what the
// example means — and which says "FAILED:certificate revoked" for a revoked
// certificate, so no header of the preset presents it as verified.
// X-Cert-Revoked ("1"/"0", certRevoked) says it explicitly.
var WorkersHeaderNames = []string{
	"X-Cert-Issuer-Dn", "X-Cert-Subject-Dn", "X-Cert-Issuer-Dn-L", "X-Cert-Subject-Dn-L",
	"X-Cert-Serial", "X-Cert-Finger", "X-Cert-Verify", "X-Cert-Notbe", "X-Cert-Notaf",
	"X-Cert-Revoked",
}

// SetWorkersHeaders sets the X-CERT-* headers (WorkersHeaderNames) from v.
// Empty values are not sent; X-Cert-Revoked only with a certificate. The
// caller must have removed client copies first (Middleware does).
func SetWorkersHeaders(h http.Header, v TLSClientAuth) {
	revoked := ""
	if v.CertPresented == "1" {
		revoked = v.CertRevoked
	}
	vals := [...]string{v.CertIssuerDN, v.CertSubjectDN, v.CertIssuerDNLegacy, v.CertSubjectDNLegacy,
		v.CertSerial, v.CertFingerprintSHA1, v.CertVerified, v.CertNotBefore, v.CertNotAfter, revoked}
	for i, name := range WorkersHeaderNames {
		if vals[i] != "" {
			h[name] = []string{vals[i]}
		} else {
			delete(h, name)
		}
	}
}

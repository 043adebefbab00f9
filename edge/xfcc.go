package edge

import (
	"crypto/x509"

	"github.com/certsight/certsight/edge/xfcc"
)

// xfccValue is the certsight.xfcc field: Envoy's x-forwarded-client-cert
// element for the presented chain, with the subject as the edge's other DN
// fields print it.
func xfccValue(peer []*x509.Certificate, subject string, o xfcc.Options) string {
	return xfcc.Format(xfcc.FromCertificates(peer, subject, o))
}

// XFCCByFromCertificate returns the URI SANs of the edge's server
// certificate, Envoy's By values. A certificate without URI SANs gives none,
// and the By key is then left out, as Envoy does.
func XFCCByFromCertificate(c *x509.Certificate) []string {
	if c == nil {
		return nil
	}
	var out []string
	for _, u := range c.URIs {
		out = append(out, u.String())
	}
	return out
}

// Package xfcc writes and reads Envoy's x-forwarded-client-cert header, so
// origins written for Envoy or Istio work behind certsight-edge unchanged.
//
// The value is a comma-separated list of elements, one per proxy; an element
// is a semicolon-separated list of Key=Value pairs. Keys are
// case-insensitive. A value that holds ',', ';', '=' or '"' is written
// double-quoted, a '"' inside as \" (Envoy's documented rule), and a '\' as
// \\ so the closing quote is never ambiguous. Envoy's own output is
// reproduced byte for byte:
//
//	By=<URI SAN of the proxy's certificate>;Hash=<hex SHA-256 of the leaf DER>;
//	Cert="<URL-encoded PEM of the leaf>";Chain="<URL-encoded PEM of every presented certificate>";
//	Subject="<RFC 2253 subject>";URI=<URI SAN>;DNS=<DNS SAN>;DNS=<DNS SAN>
//
// in that order. Subject is always present and always quoted, written as
// Envoy writes it: the RFC 2253 string verbatim, its own backslash escapes
// (\, \" \\ …) untouched, so Parse returns Subject's quoted content as it
// stands. URI is present (possibly empty) and By, Hash, Cert, Chain and DNS
// only when they have a value. URL encoding is Envoy's: every byte but ASCII
// letters, digits, '-', '.', '_' and '*' becomes %XX (uppercase hex).
package xfcc

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// HeaderName is the header's canonical name.
const HeaderName = "X-Forwarded-Client-Cert"

// Element is what one proxy says about one client certificate.
type Element struct {
	// By holds the URI SANs of the proxy's own certificate.
	By []string
	// Hash is the lowercase hex SHA-256 of the leaf's DER.
	Hash string
	// Cert is the leaf as PEM.
	Cert string
	// Chain is every certificate the client presented, leaf first, as
	// concatenated PEM.
	Chain string
	// Subject is the leaf's subject in RFC 2253 form.
	Subject string
	// URI and DNS are the leaf's URI and DNS SANs.
	URI []string
	DNS []string
	// Other holds pairs with keys this package does not know, lowercased
	// key first, kept so a value passes through unchanged in meaning.
	Other [][2]string

	// subject says the Subject key is written even when empty, as Envoy
	// does when the subject detail is on.
	subject bool
}

// Options choose the optional keys, as Envoy's set_current_client_cert_details
// does; By and Hash are always written when known.
type Options struct {
	Cert, Chain, Subject, URI, DNS bool
	// By are the URI SANs of the proxy's certificate.
	By []string
}

// AllDetails turns on every detail key.
func AllDetails(by []string) Options {
	return Options{Cert: true, Chain: true, Subject: true, URI: true, DNS: true, By: by}
}

// FromCertificates builds the element for peer (leaf first, as presented).
// subject is the leaf's RFC 2253 subject (the caller's formatter, so that the
// value matches the edge's other DN fields). An empty peer gives the zero
// Element.
func FromCertificates(peer []*x509.Certificate, subject string, o Options) Element {
	if len(peer) == 0 {
		return Element{}
	}
	leaf := peer[0]
	sum := sha256.Sum256(leaf.Raw)
	e := Element{By: o.By, Hash: hex.EncodeToString(sum[:])}
	if o.Cert {
		e.Cert = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}))
	}
	if o.Chain {
		var b strings.Builder
		for _, c := range peer {
			b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
		}
		e.Chain = b.String()
	}
	if o.Subject {
		e.Subject, e.subject = subject, true
	}
	if o.URI {
		for _, u := range leaf.URIs {
			e.URI = append(e.URI, u.String())
		}
		if e.URI == nil {
			e.URI = []string{} // Envoy writes "URI=" when there is none
		}
	}
	if o.DNS {
		e.DNS = leaf.DNSNames
	}
	return e
}

// Format writes elements as one header value.
func Format(elems ...Element) string {
	var b []byte
	for i, e := range elems {
		if i > 0 {
			b = append(b, ',')
		}
		b = e.Append(b)
	}
	return string(b)
}

// Append writes e to dst in Envoy's key order. The URI key is written when
// URI is non-nil (as "URI=" when it holds no name, as Envoy does), Subject
// when it is non-empty or came from FromCertificates or Parse.
func (e Element) Append(dst []byte) []byte {
	first := true
	pair := func(k string) {
		if !first {
			dst = append(dst, ';')
		}
		first = false
		dst = append(dst, k...)
		dst = append(dst, '=')
	}
	for _, by := range e.By {
		pair("By")
		dst = appendValue(dst, by)
	}
	if e.Hash != "" {
		pair("Hash")
		dst = appendValue(dst, e.Hash)
	}
	if e.Cert != "" {
		pair("Cert")
		dst = append(dst, '"')
		dst = URLEncode(dst, e.Cert)
		dst = append(dst, '"')
	}
	if e.Chain != "" {
		pair("Chain")
		dst = append(dst, '"')
		dst = URLEncode(dst, e.Chain)
		dst = append(dst, '"')
	}
	if e.Subject != "" || e.subject {
		pair("Subject")
		dst = append(dst, '"')
		dst = appendSubject(dst, e.Subject)
		dst = append(dst, '"')
	}
	if e.URI != nil {
		if len(e.URI) == 0 {
			pair("URI")
		}
		for _, u := range e.URI {
			pair("URI")
			dst = appendValue(dst, u)
		}
	}
	for _, d := range e.DNS {
		pair("DNS")
		dst = appendValue(dst, d)
	}
	for _, kv := range e.Other {
		pair(kv[0])
		dst = appendValue(dst, kv[1])
	}
	return dst
}

// URLEncode appends s with every byte but ASCII letters, digits, '-', '.',
// '_' and '*' percent-encoded, as Envoy's PercentEncoding::urlEncode does.
func URLEncode(dst []byte, s string) []byte {
	const hexdig = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '*' {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', hexdig[c>>4], hexdig[c&15])
	}
	return dst
}

// appendSubject writes an RFC 2253 string inside quotes as Envoy does,
// verbatim, except what would break the quoting or the header: a '"' not
// already escaped gets a backslash, a trailing lone '\' is doubled, and
// control bytes become \XX (RFC 4514's hex escape).
func appendSubject(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 < len(s) {
				// An escape pair: copy both bytes (the second may be '"').
				n := s[i+1]
				if n < 0x20 || n == 0x7f {
					dst = append(dst, '\\', '\\')
					continue
				}
				dst = append(dst, c, n)
				i++
				continue
			}
			dst = append(dst, '\\', '\\')
		case c == '"':
			dst = append(dst, '\\', '"')
		case c < 0x20 || c == 0x7f:
			dst = appendHexEscape(dst, c)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func appendHexEscape(dst []byte, c byte) []byte {
	const hexdig = "0123456789ABCDEF"
	return append(dst, '\\', hexdig[c>>4], hexdig[c&15])
}

// appendValue writes a plain value, quoted when it holds a separator, a
// quote, a backslash or a space; control and non-ASCII bytes are
// percent-encoded so the header stays valid.
func appendValue(dst []byte, v string) []byte {
	quote := false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case ',', ';', '=', '"', '\\', ' ':
			quote = true
		}
	}
	if quote {
		dst = append(dst, '"')
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c < 0x20 || c >= 0x7f:
			const hexdig = "0123456789ABCDEF"
			dst = append(dst, '%', hexdig[c>>4], hexdig[c&15])
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		default:
			dst = append(dst, c)
		}
	}
	if quote {
		dst = append(dst, '"')
	}
	return dst
}

// Limits on what Parse accepts, so a hostile header cannot make an origin
// allocate without bound.
const (
	MaxHeaderLen = 1 << 20
	MaxElements  = 64
	MaxPairs     = 256
)

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("xfcc: malformed x-forwarded-client-cert")

// Parse reads a header value. Cert and Chain are URL-decoded to PEM; other
// quoted values have \" and \\ undone, except Subject, whose quoted content is
// returned as written (it is an RFC 2253 string with its own escapes).
// Unknown keys are kept in Other. A repeated Hash, Cert, Chain or Subject in
// one element, or an empty Hash, Cert or Chain (Envoy never writes one), is
// an error.
func Parse(v string) ([]Element, error) {
	if len(v) > MaxHeaderLen {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrSyntax, len(v), MaxHeaderLen)
	}
	var out []Element
	p := parser{s: v}
	for {
		if len(out) == MaxElements {
			return nil, fmt.Errorf("%w: more than %d elements", ErrSyntax, MaxElements)
		}
		e, err := p.element()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		if p.eof() {
			return out, nil
		}
		p.i++ // ','
	}
}

type parser struct {
	s     string
	i     int
	pairs int
}

func (p *parser) eof() bool { return p.i >= len(p.s) }

func (p *parser) errf(format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", ErrSyntax, p.i, fmt.Sprintf(format, args...))
}

func (p *parser) skipSpace() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// element reads pairs up to ',' or the end.
func (p *parser) element() (Element, error) {
	var e Element
	seen := map[string]bool{}
	for {
		p.skipSpace()
		if p.eof() || p.s[p.i] == ',' {
			if len(seen) == 0 {
				return e, p.errf("empty element")
			}
			return e, nil
		}
		p.pairs++
		if p.pairs > MaxPairs {
			return e, p.errf("more than %d key-value pairs", MaxPairs)
		}
		start := p.i
		for !p.eof() && p.s[p.i] != '=' && p.s[p.i] != ';' && p.s[p.i] != ',' {
			p.i++
		}
		if p.eof() || p.s[p.i] != '=' {
			return e, p.errf("key without '='")
		}
		key := strings.ToLower(strings.TrimSpace(p.s[start:p.i]))
		if key == "" {
			return e, p.errf("empty key")
		}
		p.i++ // '='
		raw, quoted, err := p.value()
		if err != nil {
			return e, err
		}
		switch key {
		case "hash", "cert", "chain", "subject":
			if seen[key] {
				return e, p.errf("repeated key %q", key)
			}
		}
		seen[key] = true
		if raw == "" && (key == "hash" || key == "cert" || key == "chain") {
			return e, p.errf("empty %s", key)
		}
		if strings.ContainsAny(key, "\"\\") {
			return e, p.errf("quote or backslash in key %q", key)
		}
		val := raw
		if quoted && key != "subject" {
			val = unescape(raw)
		}
		switch key {
		case "by":
			e.By = append(e.By, val)
		case "hash":
			e.Hash = val
		case "cert", "chain":
			dec, err := url.PathUnescape(val)
			if err != nil {
				return e, p.errf("%s: %v", key, err)
			}
			if key == "cert" {
				e.Cert = dec
			} else {
				e.Chain = dec
			}
		case "subject":
			e.Subject, e.subject = val, true
		case "uri":
			if e.URI == nil {
				e.URI = []string{}
			}
			if val != "" {
				e.URI = append(e.URI, val)
			}
		case "dns":
			e.DNS = append(e.DNS, val)
		default:
			e.Other = append(e.Other, [2]string{key, val})
		}
		p.skipSpace()
		if p.eof() || p.s[p.i] == ',' {
			return e, nil
		}
		if p.s[p.i] != ';' {
			return e, p.errf("expected ';' or ',' after a value")
		}
		p.i++
	}
}

// value reads a quoted or bare value; raw is the text between the quotes,
// escapes included.
func (p *parser) value() (raw string, quoted bool, err error) {
	if !p.eof() && p.s[p.i] == '"' {
		p.i++
		start := p.i
		for !p.eof() {
			switch p.s[p.i] {
			case '\\':
				p.i += 2
				continue
			case '"':
				raw = p.s[start:p.i]
				p.i++
				return raw, true, nil
			}
			p.i++
		}
		return "", false, p.errf("unterminated quoted value")
	}
	start := p.i
	for !p.eof() && p.s[p.i] != ';' && p.s[p.i] != ',' {
		if p.s[p.i] == '"' {
			return "", false, p.errf("quote inside a bare value")
		}
		p.i++
	}
	return strings.TrimRight(p.s[start:p.i], " \t"), false, nil
}

// unescape undoes \" and \\ (a backslash before any other byte stays).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Certificates parses the PEM certificates of an element's Chain, or of its
// Cert when there is no Chain, for origins that want the x509 form.
func (e Element) Certificates() ([]*x509.Certificate, error) {
	src := e.Chain
	if src == "" {
		src = e.Cert
	}
	var out []*x509.Certificate
	rest := []byte(src)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("xfcc: certificate %d: %w", len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("xfcc: no certificate in the element")
	}
	return out, nil
}

package rules

import "net/netip"

// Kind is a field's type.
type Kind uint8

// Field kinds.
const (
	Bool Kind = iota + 1
	String
	IP
)

func (k Kind) String() string {
	switch k {
	case Bool:
		return "Bool"
	case String:
		return "String"
	case IP:
		return "IP"
	}
	return "unknown"
}

// Field names one value the expression language can read.
type Field struct {
	Name string
	Kind Kind
}

// Schema is the set of fields expressions may use. The ID of a field is its index in the
// slice given to NewSchema.
type Schema struct {
	fields []Field
	byName map[string]int
}

// NewSchema builds a schema from fields; a later duplicate name is ignored so IDs stay stable.
func NewSchema(fields []Field) *Schema {
	s := &Schema{fields: append([]Field(nil), fields...), byName: make(map[string]int, len(fields))}
	for i, f := range s.fields {
		if _, dup := s.byName[f.Name]; !dup {
			s.byName[f.Name] = i
		}
	}
	return s
}

// Lookup returns the ID and kind of the named field.
func (s *Schema) Lookup(name string) (id int, kind Kind, ok bool) {
	if s == nil {
		return 0, 0, false
	}
	id, ok = s.byName[name]
	if !ok {
		return 0, 0, false
	}
	return id, s.fields[id].Kind, true
}

// Fields returns a copy of the schema's fields in ID order.
func (s *Schema) Fields() []Field {
	if s == nil {
		return nil
	}
	return append([]Field(nil), s.fields...)
}

// Env supplies field values during evaluation. Implementations should not allocate per call:
// Eval is on every request's path.
type Env interface {
	Bool(id int) bool
	String(id int) string
	IP(id int) netip.Addr
}

// Field IDs of the schema returned by CloudflareFields, in order.
const (
	FieldCertPresented = iota
	FieldCertVerified
	FieldCertRevoked
	FieldCertIssuerDN
	FieldCertSubjectDN
	FieldCertIssuerDNRFC2253
	FieldCertSubjectDNRFC2253
	FieldCertIssuerDNLegacy
	FieldCertSubjectDNLegacy
	FieldCertSerial
	FieldCertIssuerSerial
	FieldCertFingerprintSHA1
	FieldCertFingerprintSHA256
	FieldCertNotBefore
	FieldCertNotAfter
	FieldCertSKI
	FieldCertIssuerSKI
	FieldCertRFC9440
	FieldCertRFC9440TooLarge
	FieldCertChainRFC9440
	FieldCertChainRFC9440TooLarge
	FieldHTTPHost
	FieldHTTPRequestMethod
	FieldHTTPRequestURIPath
	FieldIPSrc
	// FieldXFCC is certsight's own: Envoy's x-forwarded-client-cert element
	// for the connection's client certificate (see package edge/xfcc).
	FieldXFCC
	numCloudflareFields
)

// TLSClientAuthPrefix is the common prefix of the client-certificate fields.
const TLSClientAuthPrefix = "cf.tls_client_auth."

// XFCCField is the name of FieldXFCC. It is not a Cloudflare field, hence not under cf.
const XFCCField = "certsight.xfcc"

// CloudflareFields returns the fields of Cloudflare's Rules language that certsight computes, in
// the order of the Field* constants: the cf.tls_client_auth.* set plus http.host,
// http.request.method, http.request.uri.path and ip.src — and certsight.xfcc, certsight's own
// field with Envoy's x-forwarded-client-cert value (empty without a client certificate).
func CloudflareFields() []Field {
	p := TLSClientAuthPrefix
	return []Field{
		FieldCertPresented:            {p + "cert_presented", Bool},
		FieldCertVerified:             {p + "cert_verified", Bool},
		FieldCertRevoked:              {p + "cert_revoked", Bool},
		FieldCertIssuerDN:             {p + "cert_issuer_dn", String},
		FieldCertSubjectDN:            {p + "cert_subject_dn", String},
		FieldCertIssuerDNRFC2253:      {p + "cert_issuer_dn_rfc2253", String},
		FieldCertSubjectDNRFC2253:     {p + "cert_subject_dn_rfc2253", String},
		FieldCertIssuerDNLegacy:       {p + "cert_issuer_dn_legacy", String},
		FieldCertSubjectDNLegacy:      {p + "cert_subject_dn_legacy", String},
		FieldCertSerial:               {p + "cert_serial", String},
		FieldCertIssuerSerial:         {p + "cert_issuer_serial", String},
		FieldCertFingerprintSHA1:      {p + "cert_fingerprint_sha1", String},
		FieldCertFingerprintSHA256:    {p + "cert_fingerprint_sha256", String},
		FieldCertNotBefore:            {p + "cert_not_before", String},
		FieldCertNotAfter:             {p + "cert_not_after", String},
		FieldCertSKI:                  {p + "cert_ski", String},
		FieldCertIssuerSKI:            {p + "cert_issuer_ski", String},
		FieldCertRFC9440:              {p + "cert_rfc9440", String},
		FieldCertRFC9440TooLarge:      {p + "cert_rfc9440_too_large", Bool},
		FieldCertChainRFC9440:         {p + "cert_chain_rfc9440", String},
		FieldCertChainRFC9440TooLarge: {p + "cert_chain_rfc9440_too_large", Bool},
		FieldHTTPHost:                 {"http.host", String},
		FieldHTTPRequestMethod:        {"http.request.method", String},
		FieldHTTPRequestURIPath:       {"http.request.uri.path", String},
		FieldIPSrc:                    {"ip.src", IP},
		FieldXFCC:                     {XFCCField, String},
	}
}

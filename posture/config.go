package posture

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
)

// Config is the posture config file: the CA registry and the rules, shaped
// like Cloudflare's API objects so they can be copied over unchanged.
type Config struct {
	MTLSCertificates []MTLSCertificate `json:"mtls_certificates"`
	Rules            []Rule            `json:"rules"`
}

// MTLSCertificate is one CA of the registry, as POSTed to Cloudflare's
// /accounts/{id}/mtls_certificates.
type MTLSCertificate struct {
	// ID is a UUID. When absent, one is derived from the certificate's
	// SHA-256 (see DerivedID) so it stays stable; --add-ca writes a random v4.
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
	// CA must be true for a certificate that rules reference.
	CA bool `json:"ca"`
	// Certificates is one PEM string (one or more CERTIFICATE blocks, "\n"
	// line breaks). With several, any of them counts as the issuer.
	Certificates string `json:"certificates"`
	// UploadedOn is kept so that uploaded_on is stable (certsight's own
	// field, RFC 3339 with a fraction, UTC).
	UploadedOn string `json:"uploaded_on,omitempty"`
}

// Rule is one device posture rule of type client_certificate_v2.
type Rule struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// ID, Description, Schedule, Expiration and Match are accepted so that
	// rules copied from the API load; they do not change the evaluation
	// (certsight evaluates on each query; the OS filter is
	// input.operating_system).
	ID          string      `json:"id,omitempty"`
	Description string      `json:"description,omitempty"`
	Schedule    string      `json:"schedule,omitempty"`
	Expiration  string      `json:"expiration,omitempty"`
	Match       []RuleMatch `json:"match,omitempty"`
	Input       RuleInput   `json:"input"`
}

// RuleMatch is Cloudflare's platform filter ({"platform": "linux"}).
type RuleMatch struct {
	Platform string `json:"platform,omitempty"`
}

// RuleInput is the client_certificate_v2 input.
type RuleInput struct {
	// CertificateID references an MTLSCertificate by id (required).
	CertificateID string `json:"certificate_id"`
	// OperatingSystem is windows, mac or linux. A rule for another OS than
	// the running one is listed but not evaluated. Empty means any OS
	// (certsight's relaxation of a field the API requires).
	OperatingSystem string `json:"operating_system,omitempty"`
	// CN must equal the certificate's common name, ignoring case, after
	// expanding ${serial_number} and ${hostname}. Empty: not checked.
	CN string `json:"cn,omitempty"`
	// ExtendedKeyUsage lists usages that must all be present: clientAuth,
	// emailProtection (also other OpenSSL short names, or dotted OIDs).
	ExtendedKeyUsage []string `json:"extended_key_usage,omitempty"`
	// CheckPrivateKey (required) demands the certificate's own private key.
	CheckPrivateKey *bool `json:"check_private_key"`
	// Locations to search. With neither paths nor trust_stores, the system
	// and user trust stores are searched.
	Locations Locations `json:"locations"`
	// SubjectAlternativeNames: every listed value (after expansion) must
	// equal one of the certificate's SANs (DNS, email, IP or URI), ignoring
	// case; a "DNS:"-style prefix is allowed.
	SubjectAlternativeNames []string `json:"subject_alternative_names,omitempty"`
	// CheckValidity (certsight's extension, default true) demands that now
	// lies inside the certificate's validity period.
	CheckValidity *bool `json:"check_validity,omitempty"`
}

// Locations says where a rule looks for candidates.
type Locations struct {
	// Paths are files, directories, globs, NSS database directories,
	// keychain files, read by content.
	Paths []string `json:"paths,omitempty"`
	// TrustStores are "system" and/or "user": the platform's default stores
	// of that location.
	TrustStores []string `json:"trust_stores,omitempty"`
}

// Problem is one thing wrong with a config, at a JSON path such as
// "rules[0].input.locations.trust_stores[1]".
type Problem struct {
	Path    string
	Message string
}

func (p Problem) Error() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// Problems is a list of problems; as an error it prints them all.
type Problems []Problem

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.Error()
	}
	return strings.Join(s, "; ")
}

// Under returns the problems at prefix or below it.
func (ps Problems) Under(prefix string) Problems {
	var out Problems
	for _, p := range ps {
		if p.Path == prefix || strings.HasPrefix(p.Path, prefix+".") || strings.HasPrefix(p.Path, prefix+"[") {
			out = append(out, p)
		}
	}
	return out
}

// Decode reads a config strictly: syntax errors, unknown fields and values of
// the wrong JSON type are returned as Problems naming each field. It does not
// run Validate.
func Decode(data []byte) (*Config, error) {
	var raw any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, Problems{{Message: describeSyntax(data, err)}}
	}
	if _, err := dec.Token(); err == nil {
		return nil, Problems{{Message: "invalid JSON: more than one value in the file"}}
	}
	var ps Problems
	checkShape(raw, reflect.TypeFor[Config](), "", &ps)
	if len(ps) > 0 {
		return nil, ps
	}
	var c Config
	dec = json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		// checkShape should have caught it; still never lose the error.
		return nil, Problems{{Message: err.Error()}}
	}
	return &c, nil
}

// describeSyntax turns a JSON syntax error into line:column words.
func describeSyntax(data []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := lineCol(data, se.Offset)
		return fmt.Sprintf("invalid JSON at line %d, column %d: %v", line, col, se)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "invalid JSON: the file ends in the middle of a value"
	}
	if errors.Is(err, io.EOF) {
		return "the file is empty (want a JSON object)"
	}
	return "invalid JSON: " + err.Error()
}

func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line, col := 1, 1
	for _, b := range data[:off] {
		if b == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// checkShape walks decoded JSON against the Go type it will be decoded into
// and reports unknown fields and wrong JSON types with their full path.
func checkShape(v any, t reflect.Type, path string, ps *Problems) {
	if v == nil {
		// null leaves the zero value, as encoding/json does.
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		checkShape(v, t.Elem(), path, ps)
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			*ps = append(*ps, Problem{orRoot(path), "want an object, got " + jsonKind(v)})
			return
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f, ok := fields[k]
			if !ok {
				*ps = append(*ps, Problem{join(path, k), "unknown field" + suggest(k, fields)})
				continue
			}
			checkShape(m[k], f.Type, join(path, k), ps)
		}
	case reflect.Slice:
		a, ok := v.([]any)
		if !ok {
			*ps = append(*ps, Problem{orRoot(path), "want a list, got " + jsonKind(v)})
			return
		}
		for i, e := range a {
			checkShape(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), ps)
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			*ps = append(*ps, Problem{orRoot(path), "want a string, got " + jsonKind(v)})
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			*ps = append(*ps, Problem{orRoot(path), "want true or false, got " + jsonKind(v)})
		}
	}
}

func orRoot(path string) string {
	if path == "" {
		return "(top level)"
	}
	return path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func jsonKind(v any) string {
	switch x := v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return fmt.Sprintf("the string %q", x)
	case bool:
		return fmt.Sprintf("%v", x)
	case json.Number:
		return "the number " + x.String()
	}
	return fmt.Sprintf("%T", v)
}

func jsonFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f
	}
	return out
}

// suggest names a known field that differs from k only in case or
// separators, the usual typo ("trustStores" for "trust_stores").
func suggest(k string, fields map[string]reflect.StructField) string {
	norm := func(s string) string { return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s)) }
	var names []string
	for name := range fields {
		if norm(name) == norm(k) {
			return fmt.Sprintf(" (did you mean %q?)", name)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return " (known: " + strings.Join(names, ", ") + ")"
}

package posture

import (
	"fmt"
	"regexp"
	"runtime"
	"strings"

	"github.com/certsight/certsight/cert"
	"github.com/certsight/certsight/stores"
	"github.com/certsight/certsight/stores/winstore"
)

// RuleType is the only rule type certsight evaluates.
const RuleType = "client_certificate_v2"

// Operating system names as rules spell them.
const (
	OSWindows = "windows"
	OSMac     = "mac"
	OSLinux   = "linux"
)

// CurrentOS names the running OS as rules spell it ("mac" for darwin); ""
// for an OS rules cannot name.
func CurrentOS() string { return osName(runtime.GOOS) }

func osName(goos string) string {
	switch goos {
	case "windows":
		return OSWindows
	case "darwin":
		return OSMac
	case "linux":
		return OSLinux
	}
	return ""
}

// Check is one rule ready to evaluate: the CA resolved, defaults applied,
// names normalised.
type Check struct {
	// Name is the rule's name (the cert_posture "rule" column).
	Name            string
	CertificateID   string
	OperatingSystem string
	// CA is the referenced registry entry (its certificates are the
	// accepted direct issuers).
	CA CA
	// CN is the unexpanded pattern; empty means not checked.
	CN string
	// EKUs are names as cert.Info prints them (dotted OIDs of known usages
	// already turned into names).
	EKUs            []string
	SANs            []string
	CheckPrivateKey bool
	CheckValidity   bool
	Paths           []string
	TrustStores     []stores.Location
	// Problems, when set, make the rule fail without evaluation: its part of
	// the config is invalid.
	Problems Problems
}

// Policy is a validated config: every CA and every rule, each rule carrying
// its own problems so that one bad rule does not hide the others.
type Policy struct {
	CAs    []CA
	Checks []Check
	// Problems lists every problem of the config (also those attached to
	// checks), in file order.
	Problems Problems
}

var (
	cnVarRe  = regexp.MustCompile(`\$\{[^}]*\}`)
	dottedRe = regexp.MustCompile(`^[0-2](\.(0|[1-9][0-9]*))+$`)
)

// ekuNames are the names a rule may use (OpenSSL short names, as cert.Info
// prints them). Cloudflare documents clientAuth and emailProtection.
var ekuNames = map[string]string{}

func init() {
	for _, n := range []string{"clientAuth", "emailProtection", "serverAuth", "codeSigning",
		"timeStamping", "OCSPSigning", "ipsecEndSystem", "ipsecTunnel", "ipsecUser",
		"msSmartcardLogin", "msEFS", "pkInitClientAuth", "ipsecIKE", "anyExtendedKeyUsage"} {
		ekuNames[strings.ToLower(n)] = n
	}
}

// NormalizeEKU maps a rule's usage (name in any case, or dotted OID) to the
// form cert.Info prints, or reports it unknown.
func NormalizeEKU(s string) (string, error) {
	s = strings.TrimSpace(s)
	if n, ok := ekuNames[strings.ToLower(s)]; ok {
		return n, nil
	}
	if dottedRe.MatchString(s) {
		var oid []int
		for _, p := range strings.Split(s, ".") {
			v := 0
			for _, ch := range p {
				v = v*10 + int(ch-'0')
				if v > 1<<30 {
					return "", fmt.Errorf("OID %q has a component too large", s)
				}
			}
			oid = append(oid, v)
		}
		return cert.ExtKeyUsageName(oid), nil
	}
	return "", fmt.Errorf("unknown extended key usage %q (want clientAuth, emailProtection, another OpenSSL short name, or a dotted OID such as 1.3.6.1.5.5.7.3.2)", s)
}

// ValidateCN reports variables other than ${serial_number} and ${hostname}.
func ValidateCN(cn string) error {
	for _, v := range cnVarRe.FindAllString(cn, -1) {
		if v != "${serial_number}" && v != "${hostname}" {
			return fmt.Errorf("unknown variable %s (only ${serial_number} and ${hostname})", v)
		}
	}
	if i := strings.Index(cnVarRe.ReplaceAllString(cn, ""), "${"); i >= 0 {
		return fmt.Errorf("unterminated variable in %q", cn)
	}
	return nil
}

// Validate checks every value of a decoded config and resolves its rules.
// goos is the running OS as runtime.GOOS spells it (path checks only apply
// to rules for this OS). Every problem is returned with its JSON path.
func Validate(c *Config, goos string) Policy {
	var p Policy
	byID := map[string]int{}
	caProblems := map[int]Problems{}
	for i, e := range c.MTLSCertificates {
		prefix := fmt.Sprintf("mtls_certificates[%d]", i)
		ca, ps := caFromEntry(e, prefix)
		if ca.ID != "" {
			key := strings.ToLower(ca.ID)
			if j, dup := byID[key]; dup {
				ps = append(ps, Problem{prefix + ".id", fmt.Sprintf("%q is also the id of mtls_certificates[%d]", ca.ID, j)})
			} else {
				byID[key] = i
			}
		}
		p.CAs = append(p.CAs, ca)
		caProblems[i] = ps
		p.Problems = append(p.Problems, ps...)
	}
	names := map[string]int{}
	running := osName(goos)
	for i, r := range c.Rules {
		prefix := fmt.Sprintf("rules[%d]", i)
		in := r.Input
		ck, inputProblems := checkInput(in, running, configSite(prefix))
		ck.Name, ck.CertificateID = r.Name, in.CertificateID
		var ps Problems
		add := func(path, msg string, args ...any) {
			ps = append(ps, Problem{prefix + path, fmt.Sprintf(msg, args...)})
		}
		if strings.TrimSpace(r.Name) == "" {
			add(".name", "required")
			ck.Name = prefix
		} else if j, dup := names[r.Name]; dup {
			add(".name", "%q is also the name of rules[%d]", r.Name, j)
		} else {
			names[r.Name] = i
		}
		if r.Type != RuleType {
			add(".type", "%q is not supported (want %q)", r.Type, RuleType)
		}
		switch {
		case in.CertificateID == "":
			add(".input.certificate_id", "required (the id of an mtls_certificates entry)")
		default:
			j, ok := byID[strings.ToLower(in.CertificateID)]
			if !ok {
				add(".input.certificate_id", "%q is not the id of any mtls_certificates entry", in.CertificateID)
				break
			}
			ck.CA = p.CAs[j]
			if !c.MTLSCertificates[j].CA {
				add(".input.certificate_id", "mtls_certificates[%d] has \"ca\": false; a posture rule needs a CA", j)
			}
			ck.Problems = append(ck.Problems, caProblems[j]...)
		}
		ps = append(ps, inputProblems...)
		ck.Problems = append(ps, ck.Problems...)
		p.Checks = append(p.Checks, ck)
		p.Problems = append(p.Problems, ps...)
	}
	return p
}

// ruleSite is where a rule comes from, as far as validating its input
// cares: how its problems name a field, and which checks apply there.
type ruleSite struct {
	// path names a field of the input in a problem: field is its JSON key
	// under "input" (nested keys joined with "."), k its index in a list,
	// or -1.
	path func(field string, k int) string
	// relativePaths accepts relative locations. A config file's rules are
	// copied between machines, so their paths must be absolute for the OS
	// they name; an inline rule's search_path is read where the query runs.
	relativePaths bool
}

// configSite is the site of rules[i] in a config file (prefix "rules[i]").
func configSite(prefix string) ruleSite {
	return ruleSite{path: func(field string, k int) string {
		if k < 0 {
			return prefix + ".input." + field
		}
		return fmt.Sprintf("%s.input.%s[%d]", prefix, field, k)
	}}
}

// checkInput validates one rule's input, whether from a config file or
// stated inline, and returns the Check fields it determines (all but Name,
// CertificateID and CA, which depend on where the rule comes from). running
// is the OS certsight runs on, as rules spell it.
func checkInput(in RuleInput, running string, site ruleSite) (Check, Problems) {
	ck := Check{OperatingSystem: in.OperatingSystem, CN: in.CN, SANs: in.SubjectAlternativeNames,
		Paths: in.Locations.Paths, CheckValidity: true}
	var ps Problems
	add := func(field string, k int, msg string, args ...any) {
		ps = append(ps, Problem{site.path(field, k), fmt.Sprintf(msg, args...)})
	}
	switch in.OperatingSystem {
	case "", OSWindows, OSMac, OSLinux:
	default:
		add("operating_system", -1, "unknown value %q (want windows, mac or linux)", in.OperatingSystem)
	}
	if err := ValidateCN(in.CN); err != nil {
		add("cn", -1, "%v", err)
	}
	for k, u := range in.ExtendedKeyUsage {
		n, err := NormalizeEKU(u)
		if err != nil {
			add("extended_key_usage", k, "%v", err)
			continue
		}
		ck.EKUs = append(ck.EKUs, n)
	}
	if in.CheckPrivateKey == nil {
		add("check_private_key", -1, "required (true or false)")
	} else {
		ck.CheckPrivateKey = *in.CheckPrivateKey
	}
	if in.CheckValidity != nil {
		ck.CheckValidity = *in.CheckValidity
	}
	for k, s := range in.SubjectAlternativeNames {
		if strings.TrimSpace(s) == "" {
			add("subject_alternative_names", k, "empty")
		} else if err := ValidateCN(s); err != nil {
			add("subject_alternative_names", k, "%v", err)
		}
	}
	forHere := in.OperatingSystem == "" || in.OperatingSystem == running
	for k, s := range in.Locations.Paths {
		switch {
		case strings.TrimSpace(s) == "":
			add("locations.paths", k, "empty")
		case forHere && !site.relativePaths && !absoluteOn(running, s):
			add("locations.paths", k, "%q is not an absolute path", s)
		}
	}
	for k, s := range in.Locations.TrustStores {
		switch stores.Location(s) {
		case stores.LocationSystem, stores.LocationUser:
			ck.TrustStores = append(ck.TrustStores, stores.Location(s))
		default:
			add("locations.trust_stores", k, "unknown value %q (want system or user)", s)
		}
	}
	if len(in.Locations.Paths) == 0 && len(in.Locations.TrustStores) == 0 {
		ck.TrustStores = defaultTrustStores()
	}
	return ck, ps
}

// defaultTrustStores are searched when a rule names no location.
func defaultTrustStores() []stores.Location {
	return []stores.Location{stores.LocationSystem, stores.LocationUser}
}

// absoluteOn reports whether p is an absolute location on the operating
// system osName (as rules spell it), whatever OS certsight runs on: a
// registry key path (HKLM\..., HKEY_USERS\...; client_certificates accepts
// those in WHERE path too) anywhere; C:\..., C:/... or a UNC path on
// Windows; /... elsewhere.
func absoluteOn(osName, p string) bool {
	if winstore.IsRegistryPath(p) {
		return true
	}
	if osName != OSWindows {
		return strings.HasPrefix(p, "/")
	}
	if len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') &&
		('a' <= p[0]|0x20 && p[0]|0x20 <= 'z') {
		return true
	}
	return strings.HasPrefix(p, `\\`) || strings.HasPrefix(p, "//")
}

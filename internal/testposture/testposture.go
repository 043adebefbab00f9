// Package testposture builds the posture test matrix: a CA, a look-alike CA
// with the same name, an intermediate, and client certificates that each
// break one criterion, written as PEM files into a temporary directory, with
// one rule per case and its expected verdict. The same cases run through
// posture.EvaluateCheck, the cert_posture table in standalone mode and the
// extension under a fake osqueryd, so all three agree by construction.
package testposture

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/certsight/certsight/internal/testpki"
	"github.com/certsight/certsight/posture"
)

// CAName is the registry name of the fixture CA.
const CAName = "posture_test_ca"

// Fixture is the directory of files the cases refer to.
type Fixture struct {
	Dir string
	// CAFile is the CA certificate (PEM); CAID its registry id.
	CAFile string
	CAID   string
	// ConfigFile is a posture config holding the CA and every case's rule
	// (rule name = case name).
	ConfigFile string
	// Hostname and Serial are what the identity said; Serial is "" and
	// SerialErr set when the serial is unavailable.
	Hostname  string
	Serial    string
	SerialErr error
}

// Case is one row of the matrix.
type Case struct {
	// Name says the rule being checked; it is also the rule's name.
	Name string
	Rule posture.Rule
	// WantEvaluated is false for a rule that is not evaluated on this OS.
	WantEvaluated bool
	WantPassed    bool
	// WantReason are substrings the reason must contain (empty when passed).
	WantReason []string
	// WantMatchedPath is the matched file when passed.
	WantMatchedPath string
	// Inline is the same rule stated through cert_posture's input columns;
	// nil when the rule uses what input columns cannot say.
	Inline *posture.Inline
}

// Build writes the fixture files under t.TempDir() and returns the cases.
// dev is asked for the host name and serial number, so the case whose cn
// uses both variables expects a pass when the serial is available and a
// failure naming the missing serial when it is not.
func Build(t testing.TB, dev posture.Identity) (*Fixture, []Case) {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	valid := func(cn string, ekus ...x509.ExtKeyUsage) leafSpec {
		return leafSpec{cn: cn, ekus: ekus, notBefore: now.Add(-time.Hour), notAfter: now.Add(30 * 24 * time.Hour)}
	}
	client := x509.ExtKeyUsageClientAuth
	email := x509.ExtKeyUsageEmailProtection

	caName := pkix.Name{CommonName: "Posture Test CA", Organization: []string{"certsight tests"}, Country: []string{"US"}}
	ca := newCA(t, caName, nil, now)
	lookalike := newCA(t, caName, nil, now) // same name, other key
	inter := newCA(t, pkix.Name{CommonName: "Posture Test Intermediate", Organization: []string{"certsight tests"}}, ca, now)
	other := newCA(t, pkix.Name{CommonName: "Unrelated CA"}, nil, now)

	f := &Fixture{Dir: dir}
	f.CAFile = write(t, filepath.Join(dir, "ca.pem"), certPEM(ca.Cert))
	f.CAID = posture.DerivedID(ca.Cert)
	f.Hostname, _ = dev.Hostname()
	f.Serial, f.SerialErr = dev.SerialNumber(context.Background())

	// pair writes a certificate and its key into one file.
	pair := func(name string, by *testpki.Cert, s leafSpec) string {
		c, k := newLeaf(t, by, s)
		return write(t, filepath.Join(dir, name), certPEM(c), keyPEM(t, k))
	}

	good := pair("good.pem", ca, valid("device-1", client))
	upper := pair("upper.pem", ca, valid("DEVICE-1", client))
	otherIssuer := pair("other-issuer.pem", other, valid("device-1", client))
	forged := pair("forged.pem", lookalike, valid("device-1", client))
	interLeaf, interKey := newLeaf(t, inter, valid("device-1", client))
	interIssued := write(t, filepath.Join(dir, "intermediate-issued.pem"), certPEM(interLeaf), keyPEM(t, interKey))
	interChain := write(t, filepath.Join(dir, "intermediate-chain.pem"), certPEM(interLeaf), keyPEM(t, interKey), certPEM(inter.Cert))
	expired := pair("expired.pem", ca, leafSpec{cn: "device-1", ekus: []x509.ExtKeyUsage{client},
		notBefore: now.Add(-60 * 24 * time.Hour), notAfter: now.Add(-24 * time.Hour)})
	future := pair("future.pem", ca, leafSpec{cn: "device-1", ekus: []x509.ExtKeyUsage{client},
		notBefore: now.Add(24 * time.Hour), notAfter: now.Add(60 * 24 * time.Hour)})
	wrongCN := pair("wrong-cn.pem", ca, valid("device-2", client))
	emailOnly := pair("email-only.pem", ca, valid("device-1", email))
	bothEKU := pair("both-eku.pem", ca, valid("device-1", client, email))
	noEKU := pair("no-eku.pem", ca, valid("device-1"))
	nokeyCert, _ := newLeaf(t, ca, valid("device-1", client))
	noKey := write(t, filepath.Join(dir, "no-key.pem"), certPEM(nokeyCert))
	wkCert, _ := newLeaf(t, ca, valid("device-1", client))
	_, strangerKey := newLeaf(t, ca, valid("stranger", client))
	wrongKey := write(t, filepath.Join(dir, "wrong-key.pem"), certPEM(wkCert), keyPEM(t, strangerKey))
	encCert, encKey := newLeaf(t, ca, valid("device-1", client))
	encrypted := write(t, filepath.Join(dir, "encrypted-key.pem"), certPEM(encCert), encryptedKeyPEM(t, encKey))
	// Separate key file next to the certificate (client.pem + client_key.pem).
	sepCert, sepKey := newLeaf(t, ca, valid("device-1", client))
	sepDir := filepath.Join(dir, "separate")
	write(t, filepath.Join(sepDir, "client.pem"), certPEM(sepCert))
	write(t, filepath.Join(sepDir, "client_key.pem"), keyPEM(t, sepKey))

	// Both variables: the certificate carries what the device says, so the
	// rule passes exactly when the serial is known.
	bothCN := f.Hostname + "." + f.Serial
	bothVars := pair("both-vars.pem", ca, valid(bothCN, client))
	// A certificate whose CN is what an empty serial would expand to.
	emptySerial := pair("empty-serial.pem", ca, valid("_corp", client))

	multiDir := filepath.Join(dir, "multi")
	pair("multi/a-expired.pem", ca, leafSpec{cn: "device-1", ekus: []x509.ExtKeyUsage{client},
		notBefore: now.Add(-60 * 24 * time.Hour), notAfter: now.Add(-24 * time.Hour)})
	pair("multi/b-forged.pem", lookalike, valid("device-1", client))
	multiGood := pair("multi/c-good.pem", ca, valid("device-1", client))
	pair("multi/d-wrong-cn.pem", ca, valid("device-9", client))
	noneDir := filepath.Join(dir, "none")
	pair("none/a-expired.pem", ca, leafSpec{cn: "device-1", ekus: []x509.ExtKeyUsage{client},
		notBefore: now.Add(-60 * 24 * time.Hour), notAfter: now.Add(-24 * time.Hour)})
	pair("none/b-wrong-cn.pem", ca, valid("device-7", client))
	pair("none/c-other-issuer.pem", other, valid("device-1", client))
	emptyDir := filepath.Join(dir, "empty")
	if err := os.MkdirAll(emptyDir, 0o755); err != nil {
		t.Fatal(err)
	}

	yes, no := true, false
	rule := func(name, path, cn string, key bool, ekus ...string) posture.Rule {
		k := no
		if key {
			k = yes
		}
		return posture.Rule{Name: name, Type: posture.RuleType, Input: posture.RuleInput{
			CertificateID: f.CAID, CN: cn, ExtendedKeyUsage: ekus, CheckPrivateKey: &k,
			Locations: posture.Locations{Paths: []string{path}},
		}}
	}
	pass := func(name string, r posture.Rule, matched string) Case {
		return Case{Name: name, Rule: r, WantEvaluated: true, WantPassed: true, WantMatchedPath: matched}
	}
	fail := func(name string, r posture.Rule, reason ...string) Case {
		return Case{Name: name, Rule: r, WantEvaluated: true, WantReason: reason}
	}
	full := func(name, path string) posture.Rule { return rule(name, path, "device-1", true, "clientAuth") }

	var cs []Case
	add := func(c Case) { cs = append(cs, c) }
	add(pass("a certificate meeting every criterion passes", full("", good), good))
	add(pass("key in a separate file passes", full("", sepDir), filepath.Join(sepDir, "client.pem")))
	add(fail("another issuer fails", full("", otherIssuer),
		"not issued directly by CA", "its issuer is", "CN=Unrelated CA"))
	add(fail("forged issuer with the same name fails", full("", forged),
		"issuer name matches but the signature does not verify"))
	add(fail("intermediate-issued fails", full("", interIssued),
		"not issued directly by CA", "CN=Posture Test Intermediate"))
	add(fail("intermediate-issued with its chain in the file fails", full("", interChain),
		"none of 2 certificates passed", "CN=Posture Test Intermediate"))
	add(fail("expired fails", full("", expired), "expired on"))
	add(fail("not yet valid fails", full("", future), "not valid until"))
	r := full("", expired)
	r.Input.CheckValidity = &no
	add(Case{Name: "expired passes with check_validity false", Rule: r, WantEvaluated: true, WantPassed: true, WantMatchedPath: expired})
	add(fail("wrong common name fails", full("", wrongCN), `common name "device-2" is not "device-1"`))
	add(pass("common name differing in case passes", full("", upper), upper))
	r = full("", good)
	r.Input.CN = "Device-1"
	add(pass("rule cn differing in case passes", r, good))
	add(pass("empty cn is ignored", rule("", wrongCN, "", true, "clientAuth"), wrongCN))
	add(fail("EKU email only fails a clientAuth rule", full("", emailOnly),
		"lacks extended key usage clientAuth (has emailProtection)"))
	add(fail("no EKU fails a clientAuth rule", full("", noEKU), "lacks extended key usage clientAuth (has none)"))
	add(pass("EKU email only passes an emailProtection rule", rule("", emailOnly, "device-1", true, "emailProtection"), emailOnly))
	add(pass("both EKUs listed and present passes", rule("", bothEKU, "device-1", true, "clientAuth", "emailProtection"), bothEKU))
	add(fail("both EKUs listed, one present fails", rule("", good, "device-1", true, "clientAuth", "emailProtection"),
		"lacks extended key usage emailProtection"))
	add(pass("EKU as dotted OID passes", rule("", good, "device-1", true, "1.3.6.1.5.5.7.3.2"), good))
	add(fail("missing private key fails", full("", noKey), "no private key found"))
	add(pass("missing private key passes without check_private_key", rule("", noKey, "device-1", false, "clientAuth"), noKey))
	add(fail("a key of another certificate fails", full("", wrongKey), "belongs to another certificate"))
	add(fail("an encrypted key fails", full("", encrypted), "private key is encrypted"))
	add(pass("an encrypted key passes without check_private_key", rule("", encrypted, "device-1", false, "clientAuth"), encrypted))
	add(pass("several candidates where only one passes", full("", multiDir), multiGood))
	add(fail("several candidates where none passes", full("", noneDir),
		"none of 3 certificates passed", "expired on", `common name "device-7" is not "device-1"`))
	add(fail("no certificates in the location fails", full("", emptyDir), "no certificates found in paths "+emptyDir))
	add(fail("the CA certificate itself fails", rule("", f.CAFile, "", false), "is the certificate of CA"))

	both := rule("", bothVars, "${hostname}.${serial_number}", true, "clientAuth")
	if f.Serial != "" {
		add(pass("cn using both variables passes", both, bothVars))
	} else {
		add(fail("cn using both variables fails when the serial is unavailable", both,
			"device serial number is unavailable"))
	}
	if f.Serial == "" {
		add(fail("an unavailable serial never matches an empty string",
			rule("", emptySerial, "${serial_number}_corp", true, "clientAuth"), "device serial number is unavailable"))
	} else {
		add(fail("an unavailable serial never matches an empty string",
			rule("", emptySerial, "${serial_number}_corp", true, "clientAuth"), `common name "_corp" is not`))
	}
	r = full("", good)
	r.Input.OperatingSystem = otherOS()
	add(Case{Name: "a rule for another OS is not evaluated", Rule: r,
		WantReason: []string{"not evaluated: rule is for " + otherOS()}})

	for i := range cs {
		cs[i].Rule.Name = cs[i].Name
		cs[i].Inline = inline(f, cs[i].Rule)
	}
	f.ConfigFile = writeConfig(t, filepath.Join(dir, "posture.json"), ca.Cert, cs)
	return f, cs
}

// inline states the rule through input columns when they can say it.
func inline(f *Fixture, r posture.Rule) *posture.Inline {
	in := r.Input
	if in.CheckValidity != nil || in.OperatingSystem != "" || len(in.Locations.Paths) != 1 {
		return nil
	}
	key := "0"
	if in.CheckPrivateKey != nil && *in.CheckPrivateKey {
		key = "1"
	}
	return &posture.Inline{CAPath: f.CAFile, CN: in.CN, EKU: strings.Join(in.ExtendedKeyUsage, ","),
		CheckPrivateKey: key, SearchPath: in.Locations.Paths[0]}
}

func writeConfig(t testing.TB, path string, ca *x509.Certificate, cs []Case) string {
	t.Helper()
	cfg := posture.Config{MTLSCertificates: []posture.MTLSCertificate{{
		ID: posture.DerivedID(ca), Name: CAName, CA: true,
		Certificates: strings.TrimSpace(string(certPEM(ca))),
		UploadedOn:   "2026-01-02T03:04:05.000000Z",
	}}}
	for _, c := range cs {
		cfg.Rules = append(cfg.Rules, c.Rule)
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return write(t, path, b)
}

func otherOS() string {
	if runtime.GOOS == "windows" {
		return posture.OSMac
	}
	return posture.OSWindows
}

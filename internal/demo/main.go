// Command demo shows certsight.ext on something real with nothing but Go: it
// writes a throwaway PKI under a temp dir (a CA, client certificates as PEM
// files with and without their keys, an expired one, a server certificate,
// and an NSS database), queries it with a few SQL statements through the real
// binary, then queries this machine's default stores. `make demo` runs it.
package main

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/certsight/certsight/internal/testnss"
	"github.com/certsight/certsight/internal/testpki"
)

func main() {
	bin := flag.String("bin", "bin/certsight.ext", "the certsight.ext binary to demonstrate")
	keep := flag.Bool("keep", false, "keep the temp dir with the generated stores")
	flag.Parse()
	if err := run(*bin, *keep); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

func run(bin string, keep bool) error {
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%w (run `make build` first)", err)
	}
	root, err := os.MkdirTemp("", "certsight-demo")
	if err != nil {
		return err
	}
	if keep {
		fmt.Printf("stores kept in %s\n", root)
	} else {
		defer os.RemoveAll(root)
	}
	pemDir, nssDir, err := writeStores(root)
	if err != nil {
		return err
	}
	fmt.Printf("Wrote a throwaway PKI under %s:\n  %s  (PEM files: a CA, client certificates with and without keys, an expired one, a server certificate)\n  %s  (NSS database: cert9.db + key4.db)\n",
		root, pemDir, nssDir)

	steps := []struct{ title, sql string }{
		{"Every certificate in the PEM directory (path = a directory reads the files in it, by content)",
			`SELECT common_name, issuer, extended_key_usage, private_key, datetime(not_valid_after, 'unixepoch') AS expires
			 FROM client_certificates WHERE path = '` + pemDir + `' ORDER BY common_name`},
		{"Usable client certificates: clientAuth, private key present, not expired",
			`SELECT common_name, subject_alt_names, key_algorithm, key_strength
			 FROM client_certificates WHERE path = '` + pemDir + `'
			 AND extended_key_usage LIKE '%clientAuth%' AND has_private_key = 1 AND not_valid_after > strftime('%s', 'now')`},
		{"The NSS database: nicknames, certutil trust flags, and what key4.db proves (matched: decrypted and checked; a bare CKA_ID link is absent)",
			`SELECT label, common_name, trust, private_key, ca FROM client_certificates
			 WHERE path = '` + nssDir + `' ORDER BY ca DESC, label`},
		{"A JOIN across two stores: each client certificate in NSS with the CA that issued it, found in the PEM files",
			`SELECT leaf.label AS nss_nickname, ca.common_name AS issuer, ca.path AS issuer_found_in
			 FROM client_certificates leaf JOIN client_certificates ca ON ca.subject_key_id = leaf.authority_key_id
			 WHERE leaf.path = '` + nssDir + `' AND leaf.ca = 0 AND ca.path LIKE '` + pemDir + `/%.pem' AND ca.ca = 1`},
	}
	for i, s := range steps {
		if err := query(bin, fmt.Sprintf("%d. %s", i+1, s.title), s.sql); err != nil {
			return err
		}
	}

	sys := `SELECT store, store_location, path, count(*) AS certificates, sum(has_private_key) AS with_private_key
		FROM client_certificates GROUP BY store, store_location, path ORDER BY store, path`
	title := fmt.Sprintf("%d. This machine's default stores (no WHERE: every reader's defaults)", len(steps)+1)
	out, err := runSQL(bin, sys, "--csv")
	if err != nil {
		return err
	}
	if strings.Count(strings.TrimSpace(out), "\n") == 0 { // header only
		printSQL(title, sys)
		fmt.Println("   (no default store holds certificates here; on Linux the defaults are /etc/pki/nssdb and ~/.pki/nssdb,")
		fmt.Println("    on macOS the System and login keychains, on Windows LocalMachine\\My and each user's My store)")
		return nil
	}
	return query(bin, title, sys)
}

func printSQL(title, sql string) {
	fmt.Printf("\n%s\n", title)
	var lines []string
	for _, l := range strings.Split(sql, "\n") {
		lines = append(lines, "   "+strings.TrimSpace(l))
	}
	fmt.Printf("$ certsight.ext --query \"%s\"\n", strings.TrimSpace(strings.Join(lines, "\n")))
}

func query(bin, title, sql string) error {
	printSQL(title, sql)
	out, err := runSQL(bin, sql)
	if err != nil {
		return err
	}
	fmt.Print(out)
	return nil
}

func runSQL(bin, sql string, extra ...string) (string, error) {
	cmd := exec.Command(bin, append(extra, "--query", sql)...)
	cmd.Stderr = os.Stderr // per-item warnings, if any, show as they would for a user
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("certsight.ext --query: %w", err)
	}
	return string(out), nil
}

// writeStores writes the PEM directory and the NSS database.
func writeStores(root string) (pemDir, nssDir string, err error) {
	pemDir = filepath.Join(root, "pem")
	nssDir = filepath.Join(root, "nssdb")
	if err := os.Mkdir(pemDir, 0o700); err != nil {
		return "", "", err
	}
	ca, err := testpki.Issue(nil, testpki.Options{Subject: pkix.Name{CommonName: "Demo Corp Root CA", Organization: []string{"certsight test"}}, IsCA: true})
	if err != nil {
		return "", "", err
	}
	if _, err := ca.WriteCert(pemDir, "ca.pem"); err != nil {
		return "", "", err
	}
	client := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	past := time.Now().AddDate(-2, 0, 0)
	specs := []struct {
		file    string
		spec    testpki.Options
		withKey bool
	}{
		{"alice", testpki.Options{Subject: pkix.Name{CommonName: "alice"}, EKU: append(client, x509.ExtKeyUsageEmailProtection),
			Emails: []string{"alice@demo.example"}}, true},
		{"bob", testpki.Options{Subject: pkix.Name{CommonName: "bob"}, EKU: client}, false},
		{"carol-expired", testpki.Options{Subject: pkix.Name{CommonName: "carol"}, EKU: client,
			NotBefore: past, NotAfter: past.AddDate(1, 0, 0)}, true},
		{"www", testpki.Options{Subject: pkix.Name{CommonName: "www.demo.example"}, DNSNames: []string{"www.demo.example"},
			EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, true},
	}
	var nss []testnss.Cert
	for _, s := range specs {
		c, err := ca.Issue(s.spec)
		if err != nil {
			return "", "", err
		}
		if s.withKey {
			_, _, err = c.WritePair(pemDir, s.file)
		} else {
			_, err = c.WriteCert(pemDir, s.file+".crt")
		}
		if err != nil {
			return "", "", err
		}
		if s.spec.Subject.CommonName == "alice" || s.spec.Subject.CommonName == "bob" {
			// bob's key object is a bare link (CKA_ID, no key material),
			// as a copied certificate beside a forged key object would be.
			nss = append(nss, testnss.Cert{Nickname: s.spec.Subject.CommonName + "'s corp certificate", DER: c.Cert.Raw,
				Trust: "u,u,u", WithKey: true, Key: keyIf(s.withKey, c.Key)})
		}
	}
	nss = append(nss, testnss.Cert{Nickname: "Demo Corp Root CA", DER: ca.Cert.Raw, Trust: "CT,C,C"})
	if err := testnss.Create(context.Background(), nssDir, nss, testnss.Options{KeyMaterial: true}); err != nil {
		return "", "", fmt.Errorf("writing the NSS database: %w", err)
	}
	return pemDir, nssDir, nil
}

// keyIf returns k when with is set, else nil.
func keyIf(with bool, k any) any {
	if with {
		return k
	}
	return nil
}

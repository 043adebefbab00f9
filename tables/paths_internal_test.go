package tables

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNamedPath(t *testing.T) {
	for _, tc := range []struct {
		name, entry string
		patterns    []string
		want        string
	}{
		{"a file named itself keeps its path", "/x/a.pem", []string{"/x/a.pem"}, "/x/a.pem"},
		{"a file read from a named directory reports the directory", "/x/a.pem", []string{"/x"}, "/x"},
		{"the directory is reported as the query spelled it", "/x/a.pem", []string{"/x/"}, "/x/"},
		{"a file matched by a glob keeps its path", "/x/a.pem", []string{"/x/*.pem"}, "/x/a.pem"},
		{"a file in a directory matched by a glob reports that directory", "/home/bob/certs/a.pem",
			[]string{"/home/*/certs"}, "/home/bob/certs"},
		{"an NSS database directory is its own path", "/home/bob/.pki/nssdb", []string{"/home/*/.pki/nssdb"}, "/home/bob/.pki/nssdb"},
		{"the nearest named ancestor wins", "/x/y/a.pem", []string{"/x", "/x/y"}, "/x/y"},
		{"nothing named keeps the entry path", "/elsewhere/a.pem", []string{"/x"}, "/elsewhere/a.pem"},
		{"a file named with redundant separators keeps the query's spelling", "/x/a.pem", []string{"/x//a.pem"}, "/x//a.pem"},
		{"an NSS database named sql:DIR", "/etc/pki/nssdb", []string{"sql:/etc/pki/nssdb"}, "sql:/etc/pki/nssdb"},
		{"an NSS database named by its cert9.db", "/etc/pki/nssdb", []string{"/etc/pki/nssdb/cert9.db"}, "/etc/pki/nssdb/cert9.db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, namedPath(tc.entry, tc.patterns))
		})
	}
}

// TestNamedPathWindows: on Windows `\` and `/` are both separators and case
// does not matter, and a row answers in the separators the query used, so
// that SQLite's re-check of LIKE keeps it. Runs on every OS.
func TestNamedPathWindows(t *testing.T) {
	const el = `C:\Users\bob\AppData\Roaming\Microsoft\SystemCertificates\My\Certificates\0A1B`
	const dir = `C:\Users\bob\AppData\Roaming\Microsoft\SystemCertificates\My\Certificates`
	for _, tc := range []struct {
		name, entry string
		patterns    []string
		want        string
	}{
		{"the element named with backslashes", el, []string{el}, el},
		{"the element named with forward slashes", el, []string{`C:/Users/bob/AppData/Roaming/Microsoft/SystemCertificates/My/Certificates/0A1B`},
			`C:/Users/bob/AppData/Roaming/Microsoft/SystemCertificates/My/Certificates/0A1B`},
		{"the folder named with forward slashes", el, []string{`C:/Users/bob/AppData/Roaming/Microsoft/SystemCertificates/My/Certificates`},
			`C:/Users/bob/AppData/Roaming/Microsoft/SystemCertificates/My/Certificates`},
		{"the folder named in other case", el, []string{`c:\users\BOB\appdata\roaming\microsoft\systemcertificates\my\certificates\`},
			`c:\users\BOB\appdata\roaming\microsoft\systemcertificates\my\certificates\`},
		{"a forward-slash glob over the folders answers with forward slashes", el,
			[]string{`C:/Users/*/AppData/Roaming/Microsoft/SystemCertificates/My/Certificates`},
			`C:/Users/bob/AppData/Roaming/Microsoft/SystemCertificates/My/Certificates`},
		{"a backslash glob over the folders answers with backslashes", el,
			[]string{`C:\Users\*\AppData\Roaming\Microsoft\SystemCertificates\My\Certificates`}, dir},
		{"a forward-slash glob over the elements answers with forward slashes", el,
			[]string{`c:/users/*/AppData/Roaming/Microsoft/SystemCertificates/My/Certificates/*`},
			`C:/Users/bob/AppData/Roaming/Microsoft/SystemCertificates/My/Certificates/0A1B`},
		{"a registry key named with forward slashes", `HKEY_USERS\S-1-5-21-1\Software\Microsoft\SystemCertificates\My\Certificates\0A1B`,
			[]string{`HKEY_USERS/S-1-5-21-1/Software/Microsoft/SystemCertificates/My/Certificates`},
			`HKEY_USERS/S-1-5-21-1/Software/Microsoft/SystemCertificates/My/Certificates`},
		{"a mixed-slash glob answers separator for separator", `C:\t\root\certs\alice.crt`,
			[]string{`C:\t\root/*/*.crt`}, `C:\t\root/certs/alice.crt`},
		{"a mixed-slash glob over folders", `C:\t\root\certs\alice.crt`,
			[]string{`C:\t\root/*`}, `C:\t\root/certs`},
		{"nothing named keeps the entry path", el, []string{`D:/x`}, el},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, namedPathStyle(tc.entry, tc.patterns, true))
		})
	}
}

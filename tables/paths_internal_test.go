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

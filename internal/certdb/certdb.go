// Package certdb holds the CERTDB_* trust flags of NSS (lib/certdb/certdb.h)
// that both the reader (nssdb) and the test writer (internal/testnss) translate to and
// from certutil's trust letters.
package certdb

// CERTDB_* flags.
const (
	TerminalRecord  = 1 << 0
	Trusted         = 1 << 1
	SendWarn        = 1 << 2
	ValidCA         = 1 << 3
	TrustedCA       = 1 << 4
	NSTrustedCA     = 1 << 5
	User            = 1 << 6
	TrustedClientCA = 1 << 7
	InvisibleCA     = 1 << 8
	GovtApprovedCA  = 1 << 9
)

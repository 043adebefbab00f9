package rules

import "net/netip"

// fakeEnv holds field values in arrays indexed by field ID, so reading them never allocates.
type fakeEnv struct {
	b  [64]bool
	s  [64]string
	ip [64]netip.Addr
}

func (e *fakeEnv) Bool(id int) bool     { return e.b[id] }
func (e *fakeEnv) String(id int) string { return e.s[id] }
func (e *fakeEnv) IP(id int) netip.Addr { return e.ip[id] }

// verifiedEnv is a verified client certificate with a chain, as package edge would fill it.
func verifiedEnv() *fakeEnv {
	e := &fakeEnv{}
	e.b[FieldCertPresented] = true
	e.b[FieldCertVerified] = true
	e.s[FieldCertSubjectDN] = "CN=James Royal,OU=Access Admins,O=Access,L=Austin,ST=Texas,C=US"
	e.s[FieldCertIssuerDN] = "CN=Access Testing CA,OU=TX,O=Access Testing,L=Austin,ST=Texas,C=US"
	e.s[FieldCertSerial] = "527E0F20A20EA2A4146C78390F34CE7AF0878CA4"
	e.s[FieldCertFingerprintSHA256] = "af363dc85bc942a892d3cee9796190fdb36d89cd588a4f1cb17c74a943439714"
	e.s[FieldCertRFC9440] = ":MIIBqDCCAU6gAwIBAgIBBzAKBggqhkjOPQQDAjA6MRswGQYDVQQKDBJMZXQncyBBdXRoZW50aWNhdGUxGzAZBgNVBAMMEkxBIEludGVybWVkaWF0ZSBDQTAeFw0yMDAxMTQyMjU1MzNaFw0yMTAxMjMyMjU1MzNaMA0xCzAJBgNVBAMMAkJDMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8YnXXfaUgmnMtOXU/IncWalRhebrXmckC8vdgJ1p5Be5F/3YC8OthxM4+k1M6aEAEFcGzkJiNy6J84y7uzo9M6NnMGUwDgYDVR0PAQH/BAQDAgWgMB0GA1UdJQQWMBQGCCsGAQUFBwMBBggrBgEFBQcDAjAdBgNVHQ4EFgQUHBnYhkTOZe3Sz9D7fKc4GDEaSZwwHwYDVR0jBBgwFoAUIpVVpMZjbIPDKGKeRzgGkzBqEtAwCgYIKoZIzj0EAwIDSAAwRQIhAO8yOsaUWUg0yRiPHb5CEC5aZ6bKKspYOzWyZvZcZV9gAiB4vCd6cA5HqATXuiuXi8gnIsy4pBeOdZSQHFkeTKYW3Q==:"
	e.s[FieldCertChainRFC9440] = ":MIIB5jCCAYugAwIBAgIBFjAKBggqhkjOPQQDAjBWMQswCQYDVQQGEwJVUzEbMBkGA1UECgwSTGV0J3MgQXV0aGVudGljYXRlMSowKAYDVQQDDCFMZXQncyBBdXRoZW50aWNhdGUgUm9vdCBDQQ==:"
	e.s[FieldHTTPHost] = "app.example.com"
	e.s[FieldHTTPRequestMethod] = "GET"
	e.s[FieldHTTPRequestURIPath] = "/api/v1/items"
	e.ip[FieldIPSrc] = netip.MustParseAddr("192.0.2.10")
	return e
}

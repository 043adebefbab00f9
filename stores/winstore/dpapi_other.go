//go:build !windows

package winstore

// unprotect: DPAPI is Windows' own; elsewhere (and for a mounted image,
// whose master keys are not this machine's) a private half stays encrypted.
func unprotect(_, _ []byte) ([]byte, error) { return nil, errDPAPIUnavailable }

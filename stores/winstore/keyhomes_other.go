//go:build !windows

package winstore

// registryHomes: registry stores are read on Windows only.
func registryHomes(string, string) keyHomes { return keyHomes{} }

// machineGUID: only Windows' own registry has it; under --root and
// elsewhere key files are matched by their name's hash alone.
func (r *Reader) machineGUID() string { return "" }

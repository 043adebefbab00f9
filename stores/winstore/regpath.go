package winstore

import "strings"

// Registry roots accepted at the start of a registry Source path, with the
// canonical short name each maps to.
var registryRoots = map[string]string{
	"HKLM": "HKLM", "HKEY_LOCAL_MACHINE": "HKLM",
	"HKU": "HKU", "HKEY_USERS": "HKU",
	"HKCU": "HKCU", "HKEY_CURRENT_USER": "HKCU",
}

// Registry paths of the stores that Defaults returns.
const (
	// SystemMyKey is the LocalMachine My store (under HKLM). Registry
	// lookups ignore case; rows spell the store "My" everywhere.
	SystemMyKey = `SOFTWARE\Microsoft\SystemCertificates\My\Certificates`
	// UserMyKey is a user's My store in the registry (under HKEY_USERS\<SID>).
	UserMyKey = `Software\Microsoft\SystemCertificates\My\Certificates`
)

// SplitRegistryPath splits a registry path such as
// `HKLM\SOFTWARE\Microsoft\SystemCertificates\My\Certificates` into its
// canonical root ("HKLM", "HKU" or "HKCU") and the subkey path. ok is false
// for anything else, such as a file path. Roots are matched without regard to
// case, and forward slashes are accepted as separators.
func SplitRegistryPath(p string) (root, sub string, ok bool) {
	p = strings.ReplaceAll(p, "/", `\`)
	head, rest, _ := strings.Cut(p, `\`)
	root, ok = registryRoots[strings.ToUpper(head)]
	if !ok {
		return "", "", false
	}
	return root, strings.Trim(rest, `\`), true
}

// IsRegistryPath reports whether p names a registry key (see SplitRegistryPath).
func IsRegistryPath(p string) bool {
	_, _, ok := SplitRegistryPath(p)
	return ok
}

package winstore

import (
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/windows/registry"
)

// registryHomes: a loaded user hive (HKEY_USERS\<SID>\…) is its owner's,
// whose profile folder ProfileList names; every store can hold machine keys.
func registryHomes(path, sid string) keyHomes {
	h := keyHomes{programData: programData()}
	root, sub, _ := SplitRegistryPath(path)
	if root != "HKU" {
		return h
	}
	if i := strings.IndexByte(sub, '\\'); i > 0 && sid == "" {
		sid = sub[:i]
	}
	if sid == "" {
		return h
	}
	list, err := registry.OpenKey(registry.LOCAL_MACHINE, profileListKey, registry.ENUMERATE_SUB_KEYS)
	if err != nil {
		return h
	}
	defer list.Close()
	if home := profileHome(list, sid); home != "" {
		h.roaming = filepath.Join(home, "AppData", "Roaming")
		h.sid = sid
	}
	return h
}

func programData() string {
	if p := os.Getenv("ProgramData"); p != "" {
		return p
	}
	return `C:\ProgramData`
}

var (
	guidOnce sync.Once
	guid     string
)

// machineGUID is HKLM\SOFTWARE\Microsoft\Cryptography\MachineGuid, the
// suffix of this machine's key file names; "" under --root (an image's
// registry is not read) or when it cannot be read.
func (r *Reader) machineGUID() string {
	if r.cfg.Root != "" {
		return ""
	}
	guidOnce.Do(func() {
		k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Cryptography`, registry.QUERY_VALUE|registry.WOW64_64KEY)
		if err != nil {
			return
		}
		defer k.Close()
		guid, _, _ = k.GetStringValue("MachineGuid")
	})
	return guid
}

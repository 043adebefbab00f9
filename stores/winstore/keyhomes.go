package winstore

import (
	"strings"

	"github.com/certsight/certsight/stores"
)

// homes says where the key folders of the certificates read from src (at
// path) are: the owner's roaming AppData and the machine's ProgramData.
// For an element file inside a profile
// (…\Users\<name>\AppData\Roaming\Microsoft\SystemCertificates\…), both
// follow from its path, which also serves a disk image under --root; for a
// registry store they come from the running system (Windows only).
func (r *Reader) homes(src stores.Source, path string) keyHomes {
	if IsRegistryPath(path) {
		if r.cfg.Root != "" {
			return keyHomes{}
		}
		return registryHomes(path, src.SID)
	}
	h := homesFromPath(path)
	h.sid = src.SID
	return h
}

// homesFromPath finds the roaming AppData folder above
// Microsoft\SystemCertificates in path, and the volume's ProgramData
// folder when the path runs through a Users folder. Both separators are
// accepted and the path's own is kept.
func homesFromPath(path string) keyHomes {
	type comp struct {
		name       string
		start, end int
	}
	var comps []comp
	start := 0
	for i := 0; i <= len(path); i++ {
		if i == len(path) || path[i] == '\\' || path[i] == '/' {
			if i > start {
				comps = append(comps, comp{path[start:i], start, i})
			}
			start = i + 1
		}
	}
	var h keyHomes
	for i := 1; i+1 < len(comps); i++ {
		if !strings.EqualFold(comps[i].name, "Microsoft") || !strings.EqualFold(comps[i+1].name, "SystemCertificates") {
			continue
		}
		// Only a profile's roaming folder holds a user's key folders.
		if !strings.EqualFold(comps[i-1].name, "Roaming") {
			return h
		}
		h.roaming = path[:comps[i-1].end]
		for u := i - 2; u >= 0; u-- {
			if strings.EqualFold(comps[u].name, "Users") {
				h.programData = path[:comps[u].start] + "ProgramData"
				break
			}
		}
		return h
	}
	return h
}

package winstore

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/windows"
)

// unprotect decrypts a DPAPI blob (made with entropy, if any) as the running
// account: a machine key's
// blob for any account of the machine (SYSTEM, as osqueryd runs), a user
// key's only for that user. The plaintext is the caller's to wipe.
func unprotect(blob, entropy []byte) ([]byte, error) {
	if len(blob) == 0 {
		return nil, errors.New("empty DPAPI blob")
	}
	in := windows.DataBlob{Size: uint32(len(blob)), Data: &blob[0]}
	var ent *windows.DataBlob
	if len(entropy) > 0 {
		ent = &windows.DataBlob{Size: uint32(len(entropy)), Data: &entropy[0]}
	}
	var out windows.DataBlob
	if err := windows.CryptUnprotectData(&in, nil, ent, 0, nil, windows.CRYPTPROTECT_UI_FORBIDDEN, &out); err != nil {
		return nil, err
	}
	defer windows.LocalFree(windows.Handle(unsafe.Pointer(out.Data)))
	src := unsafe.Slice(out.Data, out.Size)
	plain := append([]byte(nil), src...)
	clear(src)
	return plain, nil
}

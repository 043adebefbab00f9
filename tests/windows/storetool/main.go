//go:build windows

// Command storetool writes and lists Windows certificate stores through
// crypt32 itself (golang.org/x/sys/windows), so that certsight's readers are
// checked against an independent writer: Wine's crypt32 under Wine, the real
// one on Windows. It is a test helper, never shipped.
//
//	storetool add  -store user|machine -cert c.der [-name "Friendly"] [-container C -provider P]
//	storetool pfx  -store user|machine -pfx c.p12 -password pw
//	storetool reg  -key HKEY_USERS\<SID>\Software\Microsoft\SystemCertificates\My -cert c.der [-name N]
//	storetool profile -sid SID -path %SystemDrive%\users\bob   (a ProfileList entry)
//	storetool element -cert c.der [-name N] -out FILE     (a serialized store element, as the profile folder holds)
//	storetool list -store user|machine | -key KEY        (JSON lines, one per certificate crypt32 sees)
package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

var (
	crypt32                          = windows.NewLazySystemDLL("crypt32.dll")
	procCertAddEncodedCertificate    = crypt32.NewProc("CertAddEncodedCertificateToStore")
	procCertSetContextProperty       = crypt32.NewProc("CertSetCertificateContextProperty")
	procCertGetContextProperty       = crypt32.NewProc("CertGetCertificateContextProperty")
	procCertSerializeCertificateElem = crypt32.NewProc("CertSerializeCertificateStoreElement")
)

const (
	encoding = windows.X509_ASN_ENCODING | windows.PKCS_7_ASN_ENCODING

	propKeyProvInfo  = 2  // CERT_KEY_PROV_INFO_PROP_ID
	propSHA1         = 3  // CERT_SHA1_HASH_PROP_ID
	propFriendlyName = 11 // CERT_FRIENDLY_NAME_PROP_ID

	provRSAFull   = 1 // PROV_RSA_FULL
	atKeyExchange = 1 // AT_KEYEXCHANGE

	certStoreProvReg  = 4      // CERT_STORE_PROV_REG
	certStoreReadOnly = 0x8000 // CERT_STORE_READONLY_FLAG
)

// cryptKeyProvInfo is CRYPT_KEY_PROV_INFO.
type cryptKeyProvInfo struct {
	ContainerName *uint16
	ProvName      *uint16
	ProvType      uint32
	Flags         uint32
	ProvParam     uint32
	ProvParams    uintptr
	KeySpec       uint32
}

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: storetool add|pfx|reg|element|list ..."))
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	storeName := fs.String("store", "user", "user (CurrentUser) or machine (LocalMachine) My store")
	certFile := fs.String("cert", "", "DER certificate")
	name := fs.String("name", "", "friendly name")
	container := fs.String("container", "", "key container name for a CRYPT_KEY_PROV_INFO link")
	provider := fs.String("provider", "Microsoft Enhanced Cryptographic Provider v1.0", "CSP name of the key link")
	pfxFile := fs.String("pfx", "", "PKCS#12 file")
	password := fs.String("password", "", "PKCS#12 password")
	key := fs.String("key", "", `registry key of a store, e.g. HKEY_USERS\S-1-5-21-1-2-3-1001\Software\Microsoft\SystemCertificates\My`)
	out := fs.String("out", "", "output file")
	sid := fs.String("sid", "", "SID of a ProfileList entry")
	profilePath := fs.String("path", "", "ProfileImagePath of a ProfileList entry (REG_EXPAND_SZ)")
	_ = fs.Parse(os.Args[2:])

	var err error
	switch os.Args[1] {
	case "add":
		err = withSystemStore(*storeName, func(st windows.Handle) error { return add(st, *certFile, *name, *container, *provider) })
	case "pfx":
		err = withSystemStore(*storeName, func(st windows.Handle) error { return importPFX(st, *storeName, *pfxFile, *password) })
	case "reg":
		err = withRegistryStore(*key, true, func(st windows.Handle) error { return add(st, *certFile, *name, *container, *provider) })
	case "profile":
		err = addProfile(*sid, *profilePath)
	case "element":
		err = element(*certFile, *name, *out)
	case "list":
		if *key != "" {
			err = withRegistryStore(*key, false, func(st windows.Handle) error { return list(st, *key) })
		} else {
			err = withSystemStore(*storeName, func(st windows.Handle) error { return list(st, *storeName) })
		}
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "storetool:", err)
	os.Exit(1)
}

func withSystemStore(which string, fn func(windows.Handle) error) error {
	var flags uint32
	switch which {
	case "user":
		flags = windows.CERT_SYSTEM_STORE_CURRENT_USER
	case "machine":
		flags = windows.CERT_SYSTEM_STORE_LOCAL_MACHINE
	default:
		return fmt.Errorf("unknown store %q (want user or machine)", which)
	}
	my, _ := windows.UTF16PtrFromString("MY")
	st, err := windows.CertOpenStore(windows.CERT_STORE_PROV_SYSTEM_W, 0, 0, flags, uintptr(unsafe.Pointer(my)))
	if err != nil {
		return fmt.Errorf("CertOpenStore(%s MY): %w", which, err)
	}
	defer windows.CertCloseStore(st, 0)
	return fn(st)
}

// registryRoots are the hives a -key path may start with.
var registryRoots = map[string]registry.Key{
	"HKEY_USERS": registry.USERS, "HKEY_CURRENT_USER": registry.CURRENT_USER, "HKEY_LOCAL_MACHINE": registry.LOCAL_MACHINE,
}

// withRegistryStore opens a store under any registry key with crypt32's
// registry provider (a loaded HKEY_USERS\<SID> hive holds its My store so):
// created for writing, or read-only when it lists.
func withRegistryStore(path string, write bool, fn func(windows.Handle) error) error {
	head, rest, _ := strings.Cut(path, `\`)
	root, ok := registryRoots[head]
	if !ok {
		return fmt.Errorf("%s: want a key under HKEY_USERS, HKEY_CURRENT_USER or HKEY_LOCAL_MACHINE", path)
	}
	var k registry.Key
	var err error
	var flags uint32
	if write {
		k, _, err = registry.CreateKey(root, rest, registry.ALL_ACCESS)
	} else {
		k, err = registry.OpenKey(root, rest, registry.READ)
		flags = certStoreReadOnly
	}
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	defer k.Close()
	st, err := windows.CertOpenStore(certStoreProvReg, 0, 0, flags, uintptr(k))
	if err != nil {
		return fmt.Errorf("CertOpenStore(CERT_STORE_PROV_REG %s): %w", path, err)
	}
	defer windows.CertCloseStore(st, 0)
	return fn(st)
}

func readDER(file string) ([]byte, error) {
	der, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if len(der) == 0 {
		return nil, fmt.Errorf("%s is empty", file)
	}
	return der, nil
}

// add adds der to st (replacing an existing copy) and sets the
// friendly name and key link; the caller frees the returned context.
func add(st windows.Handle, certFile, name, container, provider string) error {
	ctx, err := addContext(st, certFile, name, container, provider)
	if err != nil {
		return err
	}
	windows.CertFreeCertificateContext(ctx)
	return nil
}

func addContext(st windows.Handle, certFile, name, container, provider string) (*windows.CertContext, error) {
	der, err := readDER(certFile)
	if err != nil {
		return nil, err
	}
	var ctx *windows.CertContext
	r, _, callErr := procCertAddEncodedCertificate.Call(uintptr(st), encoding, uintptr(unsafe.Pointer(&der[0])),
		uintptr(len(der)), windows.CERT_STORE_ADD_REPLACE_EXISTING, uintptr(unsafe.Pointer(&ctx)))
	if r == 0 {
		return nil, fmt.Errorf("CertAddEncodedCertificateToStore: %w", callErr)
	}
	if name != "" {
		u, _ := windows.UTF16FromString(name)
		blob := windows.CryptDataBlob{Size: uint32(len(u) * 2), Data: (*byte)(unsafe.Pointer(&u[0]))}
		if err := setProperty(ctx, propFriendlyName, unsafe.Pointer(&blob)); err != nil {
			windows.CertFreeCertificateContext(ctx)
			return nil, err
		}
	}
	if container != "" {
		c, _ := windows.UTF16PtrFromString(container)
		p, _ := windows.UTF16PtrFromString(provider)
		info := cryptKeyProvInfo{ContainerName: c, ProvName: p, ProvType: provRSAFull, KeySpec: atKeyExchange}
		if err := setProperty(ctx, propKeyProvInfo, unsafe.Pointer(&info)); err != nil {
			windows.CertFreeCertificateContext(ctx)
			return nil, err
		}
	}
	return ctx, nil
}

func setProperty(ctx *windows.CertContext, id uint32, data unsafe.Pointer) error {
	r, _, err := procCertSetContextProperty.Call(uintptr(unsafe.Pointer(ctx)), uintptr(id), 0, uintptr(data))
	if r == 0 {
		return fmt.Errorf("CertSetCertificateContextProperty(%d): %w", id, err)
	}
	return nil
}

func getProperty(ctx *windows.CertContext, id uint32) ([]byte, bool) {
	var n uint32
	r, _, _ := procCertGetContextProperty.Call(uintptr(unsafe.Pointer(ctx)), uintptr(id), 0, uintptr(unsafe.Pointer(&n)))
	if r == 0 || n == 0 {
		return nil, false
	}
	buf := make([]byte, n)
	r, _, _ = procCertGetContextProperty.Call(uintptr(unsafe.Pointer(ctx)), uintptr(id), uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)))
	if r == 0 {
		return nil, false
	}
	return buf[:n], true
}

func importPFX(st windows.Handle, which, file, password string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	pw, _ := windows.UTF16PtrFromString(password)
	flags := uint32(windows.CRYPT_USER_KEYSET)
	if which == "machine" {
		flags = windows.CRYPT_MACHINE_KEYSET
	}
	blob := windows.CryptDataBlob{Size: uint32(len(data)), Data: &data[0]}
	mem, err := windows.PFXImportCertStore(&blob, pw, flags)
	if err != nil {
		return fmt.Errorf("PFXImportCertStore: %w", err)
	}
	defer windows.CertCloseStore(mem, 0)
	n := 0
	var ctx *windows.CertContext
	for {
		ctx, err = windows.CertEnumCertificatesInStore(mem, ctx)
		if err != nil {
			break
		}
		if err := windows.CertAddCertificateContextToStore(st, ctx, windows.CERT_STORE_ADD_REPLACE_EXISTING, nil); err != nil {
			windows.CertFreeCertificateContext(ctx)
			return fmt.Errorf("CertAddCertificateContextToStore: %w", err)
		}
		n++
	}
	if n == 0 {
		return errors.New("PFXImportCertStore: no certificates")
	}
	return nil
}

// addProfile writes a ProfileList entry, as Windows keeps one per profile.
func addProfile(sid, path string) error {
	const list = `SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList\`
	k, _, err := registry.CreateKey(registry.LOCAL_MACHINE, list+sid, registry.ALL_ACCESS)
	if err != nil {
		return fmt.Errorf("creating ProfileList\\%s: %w", sid, err)
	}
	defer k.Close()
	return k.SetExpandStringValue("ProfileImagePath", path)
}

// element writes the serialized store element of a certificate, as
// crypt32 would keep it in a profile's SystemCertificates folder.
func element(certFile, name, out string) error {
	mem, err := windows.CertOpenStore(windows.CERT_STORE_PROV_MEMORY, 0, 0, 0, 0)
	if err != nil {
		return fmt.Errorf("CertOpenStore(memory): %w", err)
	}
	defer windows.CertCloseStore(mem, 0)
	ctx, err := addContext(mem, certFile, name, "", "")
	if err != nil {
		return err
	}
	defer windows.CertFreeCertificateContext(ctx)
	var n uint32
	r, _, callErr := procCertSerializeCertificateElem.Call(uintptr(unsafe.Pointer(ctx)), 0, 0, uintptr(unsafe.Pointer(&n)))
	if r == 0 {
		return fmt.Errorf("CertSerializeCertificateStoreElement: %w", callErr)
	}
	buf := make([]byte, n)
	r, _, callErr = procCertSerializeCertificateElem.Call(uintptr(unsafe.Pointer(ctx)), 0, uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)))
	if r == 0 {
		return fmt.Errorf("CertSerializeCertificateStoreElement: %w", callErr)
	}
	return os.WriteFile(out, buf[:n], 0o644)
}

// listed is one certificate as crypt32 sees it.
type listed struct {
	Store        string `json:"store"`
	SHA1         string `json:"sha1"`
	FriendlyName string `json:"friendly_name"`
	KeyContainer string `json:"key_container"`
	HasKeyLink   bool   `json:"has_key_link"`
	DER          string `json:"der"`
}

func list(st windows.Handle, which string) error {
	enc := json.NewEncoder(os.Stdout)
	var ctx *windows.CertContext
	var err error
	for {
		ctx, err = windows.CertEnumCertificatesInStore(st, ctx)
		if err != nil {
			return nil // CRYPT_E_NOT_FOUND ends the listing
		}
		der := unsafe.Slice(ctx.EncodedCert, ctx.Length)
		l := listed{Store: which, DER: base64.StdEncoding.EncodeToString(der)}
		if b, ok := getProperty(ctx, propSHA1); ok {
			l.SHA1 = hex.EncodeToString(b)
		}
		if b, ok := getProperty(ctx, propFriendlyName); ok && len(b) >= 2 {
			l.FriendlyName = windows.UTF16ToString(unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(b)/2))
		}
		if b, ok := getProperty(ctx, propKeyProvInfo); ok && len(b) >= int(unsafe.Sizeof(cryptKeyProvInfo{})) {
			info := (*cryptKeyProvInfo)(unsafe.Pointer(&b[0]))
			l.HasKeyLink = true
			if info.ContainerName != nil {
				l.KeyContainer = windows.UTF16PtrToString(info.ContainerName)
			}
		}
		if err := enc.Encode(l); err != nil {
			windows.CertFreeCertificateContext(ctx)
			return err
		}
	}
}

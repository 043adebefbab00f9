package winstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/windows/registry"

	"github.com/certsight/certsight/stores"
	"github.com/certsight/certsight/stores/winstore/internal/element"
)

var rootKeys = map[string]registry.Key{
	"HKLM": registry.LOCAL_MACHINE,
	"HKU":  registry.USERS,
	"HKCU": registry.CURRENT_USER,
}

// readRegistry reads a Certificates key (each subkey's Blob value) or one
// element key with a Blob value. Keys are opened for reading only. It
// returns false once the consumer has stopped.
func (r *Reader) readRegistry(ctx context.Context, src stores.Source, root, sub string, yield yielder) bool {
	base := strings.TrimRight(src.Path, `\/`)
	fail := func(path string, err error) bool { return yield(stores.Entry{}, r.cfg.ItemError(path, "", err)) }
	k, err := registry.OpenKey(rootKeys[root], sub, registry.ENUMERATE_SUB_KEYS|registry.QUERY_VALUE)
	if err != nil {
		return fail(base, fmt.Errorf("opening registry key: %w", err))
	}
	defer k.Close()
	if blob, _, err := k.GetBinaryValue("Blob"); err == nil {
		return r.registryElement(ctx, blob, src, base, lastElem(base), yield)
	}
	names, err := k.ReadSubKeyNames(-1)
	if err != nil {
		return fail(base, fmt.Errorf("listing subkeys: %w", err))
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return fail(base, err)
		}
		path := base + `\` + name
		blob, err := readBlob(k, name)
		if err != nil {
			if !fail(path, err) {
				return false
			}
			continue
		}
		if !r.registryElement(ctx, blob, src, path, name, yield) {
			return false
		}
	}
	return true
}

func readBlob(parent registry.Key, name string) ([]byte, error) {
	sk, err := registry.OpenKey(parent, name, registry.QUERY_VALUE)
	if err != nil {
		return nil, fmt.Errorf("opening registry key: %w", err)
	}
	defer sk.Close()
	blob, _, err := sk.GetBinaryValue("Blob")
	if err != nil {
		return nil, fmt.Errorf("reading Blob value: %w", err)
	}
	if len(blob) > MaxFileSize {
		return nil, errors.New("Blob value exceeds the size limit")
	}
	return blob, nil
}

func (r *Reader) registryElement(ctx context.Context, blob []byte, src stores.Source, path, name string, yield yielder) bool {
	el, err := element.ParseElement(blob)
	if err != nil {
		return yield(stores.Entry{}, r.cfg.ItemError(path, "", err))
	}
	return r.fromElement(ctx, el, src, path, "", thumbprintName(name), yield)
}

func lastElem(p string) string {
	if i := strings.LastIndexByte(p, '\\'); i >= 0 {
		return p[i+1:]
	}
	return p
}

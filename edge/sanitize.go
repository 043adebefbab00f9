package edge

import (
	"net/http"
	"strings"
)

// sanitizer deletes every client-supplied copy of the managed headers. Names
// are compared after folding: ASCII lowercase, and every character that is
// neither a letter nor a digit ("_", ".", "~", …) read as "-", because CGI,
// WSGI, PHP and nginx with underscores_in_headers fold such aliases into the
// same variable as the real name.
type sanitizer struct {
	names    map[string]struct{} // folded names
	prefixes []string            // folded prefixes
	// first marks the folded first bytes of every name and prefix, so most
	// headers (Accept, User-Agent, …) are passed over after one lookup.
	first [256]bool
	// onStrip, when set, hears about every header strip removes.
	onStrip func(name string)
}

func newSanitizer(names, prefixes []string) *sanitizer {
	s := &sanitizer{names: make(map[string]struct{}, len(names))}
	for _, n := range names {
		s.names[foldName(n)] = struct{}{}
	}
	for _, p := range prefixes {
		s.prefixes = append(s.prefixes, foldName(p))
	}
	for n := range s.names {
		if n != "" {
			s.first[n[0]] = true
		}
	}
	for _, p := range s.prefixes {
		if p != "" {
			s.first[p[0]] = true
		}
	}
	return s
}

// foldName is the allocation-free rule's reference form, used at setup.
func foldName(n string) string {
	b := []byte(n)
	for i, c := range b {
		b[i] = foldByte(c)
	}
	return string(b)
}

func foldByte(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c + ('a' - 'A')
	case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		return c
	}
	return '-'
}

// maxManagedName bounds the names worth folding whole; a longer name can
// still match a prefix, which is checked on its folded beginning.
const maxManagedName = 256

// managed reports whether the header name k folds to a managed name or
// starts with a managed prefix. It does not allocate.
func (s *sanitizer) managed(k string) bool {
	if len(k) == 0 || !s.first[foldByte(k[0])] {
		return false
	}
	var buf [maxManagedName]byte
	n := min(len(k), maxManagedName)
	for i := 0; i < n; i++ {
		buf[i] = foldByte(k[i])
	}
	f := buf[:n]
	if len(k) <= maxManagedName {
		if _, ok := s.names[string(f)]; ok { // map lookup by []byte conversion: no allocation
			return true
		}
	}
	for _, p := range s.prefixes {
		if len(f) >= len(p) && string(f[:len(p)]) == p {
			return true
		}
	}
	return false
}

// strip deletes the managed headers from h (deleting during range is safe
// in Go).
func (s *sanitizer) strip(h http.Header) {
	for k := range h {
		if s.managed(k) {
			if s.onStrip != nil {
				s.onStrip(k)
			}
			delete(h, k)
		}
	}
}

// stripConnectionTokens removes managed names from the Connection header, so
// that a proxy further down (httputil.ReverseProxy removes every header
// Connection names) cannot be told to drop a header this edge set.
func (s *sanitizer) stripConnectionTokens(h http.Header) {
	vals, ok := h["Connection"]
	if !ok {
		return
	}
	dirty := false
	for _, v := range vals {
		for tok := range strings.SplitSeq(v, ",") {
			if s.managed(strings.TrimSpace(tok)) {
				dirty = true
			}
		}
	}
	if !dirty {
		return
	}
	var keep []string
	for _, v := range vals {
		for tok := range strings.SplitSeq(v, ",") {
			if t := strings.TrimSpace(tok); t != "" && !s.managed(t) {
				keep = append(keep, t)
			}
		}
	}
	if len(keep) == 0 {
		delete(h, "Connection")
		return
	}
	h["Connection"] = []string{strings.Join(keep, ", ")}
}

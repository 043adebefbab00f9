package xfcc

import (
	"testing"
)

// FuzzParse: no input panics, and whatever parses formats back to a value
// that parses to the same elements.
func FuzzParse(f *testing.F) {
	for _, ex := range envoyExamples {
		f.Add(ex)
	}
	f.Add(`Cert="-----BEGIN%20CERTIFICATE-----%0AMIIB%0A-----END%20CERTIFICATE-----%0A";URI=`)
	f.Add(`By="a;b";URI="x\"y\\"`)
	f.Fuzz(func(t *testing.T, v string) {
		elems, err := Parse(v)
		if err != nil {
			return
		}
		again, err := Parse(Format(elems...))
		if err != nil {
			t.Fatalf("formatted %q does not parse: %v", Format(elems...), err)
		}
		if Format(again...) != Format(elems...) {
			t.Fatalf("not stable: %q vs %q", Format(again...), Format(elems...))
		}
	})
}

// FuzzRoundTrip: printable values survive Format then Parse unchanged.
func FuzzRoundTrip(f *testing.F) {
	f.Add("spiffe://a/b", "a.example", "CN=x\\,y,O=\\\"q\\\"", "-----BEGIN X-----\n+/=\n")
	f.Add("", "", "", "")
	f.Fuzz(func(t *testing.T, by, dns, subject, pemText string) {
		for _, s := range []string{by, dns} {
			for i := 0; i < len(s); i++ {
				if s[i] < 0x20 || s[i] >= 0x7f {
					return // percent-encoded on purpose: not a round trip
				}
			}
		}
		if !wellFormedSubject(subject) {
			return
		}
		in := Element{Hash: "00", Cert: pemText, Subject: subject, URI: []string{}}
		if by != "" {
			in.By = []string{by}
		}
		if dns != "" {
			in.DNS = []string{dns}
		}
		out, err := Parse(Format(in))
		if err != nil {
			t.Fatalf("%q: %v", Format(in), err)
		}
		if len(out) != 1 {
			t.Fatalf("%q: %d elements", Format(in), len(out))
		}
		got := out[0]
		if got.Cert != in.Cert || got.Subject != in.Subject || len(got.By) != len(in.By) || len(got.DNS) != len(in.DNS) ||
			(by != "" && got.By[0] != by) || (dns != "" && got.DNS[0] != dns) {
			t.Fatalf("round trip of %+v gave %+v via %q", in, got, Format(in))
		}
	})
}

// wellFormedSubject: what an RFC 2253 printer can produce — printable,
// every '"' escaped, no trailing lone backslash.
func wellFormedSubject(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return false
		case c == '\\':
			if i+1 >= len(s) || s[i+1] < 0x20 || s[i+1] == 0x7f {
				return false
			}
			i++
		case c == '"':
			return false
		}
	}
	return true
}

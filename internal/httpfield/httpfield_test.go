package httpfield

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"Client-Cert", true}, {"x-a_b.c~!#$%&'*+^`|", true}, {"", false}, {"a b", false}, {"a:b", false},
		{"caf\xc3\xa9", false}, {"a\x00", false}, {"(x)", false}, {`"x"`, false},
	} {
		assert.Equal(t, tc.ok, ValidName(tc.in), "%q", tc.in)
	}
}

func TestValidValue(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"", true}, {"a\tb", true}, {"caf\xc3\xa9 \x80\xff", true}, {":" + strings.Repeat("QUJD", 300) + ":", true},
		{"a\nb", false}, {"a\rb", false}, {"abcdefgh\x7f", false}, {"abcdefghijklmno\x00", false}, {"\x1f", false},
	} {
		assert.Equal(t, tc.ok, ValidValue(tc.in), "%q", tc.in)
	}
}

func TestValidHost(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"example.test", true}, {"example.test:8443", true}, {"[fe80::1%25eth0]:443", true}, {"", true},
		{"a b", false}, {"a/b", false}, {"a@b", false}, {"caf\xc3\xa9", false}, {"a\r\n", false},
	} {
		assert.Equal(t, tc.ok, ValidHost(tc.in), "%q", tc.in)
	}
}

func TestOnlyKeepAliveOrClose(t *testing.T) {
	for _, tc := range []struct {
		in []string
		ok bool
	}{
		{nil, true}, {[]string{""}, true}, {[]string{"keep-alive"}, true}, {[]string{" Close , KEEP-ALIVE,"}, true},
		{[]string{"close", "keep-alive"}, true}, {[]string{"upgrade"}, false}, {[]string{"close, X-Foo"}, false},
		{[]string{"close", "Client-Cert"}, false}, {[]string{"keep-alive\v"}, false},
	} {
		assert.Equal(t, tc.ok, OnlyKeepAliveOrClose(tc.in), "%q", tc.in)
	}
}

// FuzzValidValue checks the word-at-a-time check against the plain one.
func FuzzValidValue(f *testing.F) {
	for _, s := range []string{"", "a", ":AAAA:", "a\tb", "abcdefgh\x7f", "abcdefghijklmno\n", "\x80\x9f\xff\x1f", "caf\xc3\xa9 au lait, s'il vous plaît"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if ValidValue(v) != validBytes(v) {
			t.Fatalf("ValidValue(%q) = %v, byte by byte %v", v, ValidValue(v), validBytes(v))
		}
	})
}

func BenchmarkValidValue(b *testing.B) {
	v := ":" + strings.Repeat("MIIB0DCCAXagAwIBAgILAO6GYXpSQ", 40) + ":"
	for b.Loop() {
		if !ValidValue(v) {
			b.Fatal("rejected")
		}
	}
}

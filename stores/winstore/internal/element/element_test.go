package element

import (
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testpki"
	tw "github.com/certsight/certsight/internal/testwinstore"
)

// realDir holds the elements Windows wrote; the reader's tests use them too.
var realDir = filepath.Join("..", "..", "testdata", "real")

func certDER(t testing.TB, cn string) []byte {
	t.Helper()
	c, err := testpki.SelfSigned(cn)
	require.NoError(t, err)
	return c.Cert.Raw
}

func sha1Of(der []byte) []byte {
	s := sha1.Sum(der)
	return s[:]
}

func TestParseRealElements(t *testing.T) {
	cases := []struct {
		file      string
		props     []uint32
		container string // "" when the element links no key
		provider  string
		provType  uint32
		label     string
	}{
		{"71CB4E2B02738AD44F8B382C93BD17BA665F9914.blob", []uint32{2, 32},
			"{77EBD02D-D8DE-475A-8867-D20B0064E49F}", "Microsoft Strong Cryptographic Provider", 1, ""},
		{"28CA236A328D9C5240AB1712A1392DAA8B4DD7A0.blob", []uint32{4, 15, 20, 25, 3, 92, 2, 71, 32},
			"2655f347b6b69a9c08890adc0a908581_94f748d5-d585-4309-9e7a-4be163cfc6d4", "Microsoft Enhanced RSA and AES Cryptographic Provider", 24, ""},
		{"D89E3BD43D5D909B47A18977AA9D5CE36CEE184C.blob", []uint32{89, 75, 24, 92, 25, 15, 4, 20, 3, 32}, "", "", 0, ""},
		{"B9EE85A10FD495D994ED63488AB74A18CB8E6BFA.blob", []uint32{75, 24, 25, 15, 4, 20, 3, 32}, "", "", 0, ""},
		{"90DEDE9E4C4E9F6FD88617579DD391BC65A68964.blob", []uint32{4, 11, 9, 3, 20, 32}, "", "", 0, "GTE CyberTrust Root"},
	}
	for _, tc := range cases {
		t.Run(tc.file[:8], func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(realDir, tc.file))
			require.NoError(t, err)
			assert.True(t, Sniff(data[:min(len(data), 512)], 64<<20))

			el, err := ParseElement(data)
			require.NoError(t, err)
			var ids []uint32
			for _, pr := range el.Properties {
				ids = append(ids, pr.ID)
			}
			assert.Equal(t, tc.props, ids)
			assert.Equal(t, PropCert, el.Context())
			if v, ok := el.Property(15); ok && tc.file[:4] == "D89E" {
				assert.Len(t, v, 48, "property 15 of D89E3BD4 is 48 bytes")
			}
			name, err := el.FriendlyName()
			require.NoError(t, err)
			assert.Equal(t, tc.label, name)
			kpi, err := el.KeyProvInfo()
			require.NoError(t, err)
			if tc.container != "" {
				require.NotNil(t, kpi)
				assert.Equal(t, tc.container, kpi.ContainerName)
				assert.Equal(t, tc.provider, kpi.ProviderName)
				assert.Equal(t, tc.provType, kpi.ProviderType)
				assert.Equal(t, uint32(2), kpi.KeySpec)
				assert.False(t, kpi.MachineKey())
			} else {
				assert.Nil(t, kpi)
			}
			assert.Equal(t, tc.file[:40], strings.ToUpper(hex.EncodeToString(sha1Of(el.Certificate()))), "SHA-1 of property 32 is the file name")
			if v, ok := el.Property(PropSHA1Hash); ok {
				assert.Equal(t, tc.file[:40], strings.ToUpper(hex.EncodeToString(v)), "property 3 is the thumbprint")
			}
		})
	}
}

func TestParseSynthesized(t *testing.T) {
	der := certDER(t, "synth")
	cases := []struct {
		name    string
		data    []byte
		label   string
		machine bool
		kpiErr  string
	}{
		{name: "certificate only", data: tw.Element(tw.Prop(32, der))},
		{name: "friendly name with non-ASCII", data: tw.Element(tw.Prop(11, tw.UTF16LE("Zoë's 😀 cert", true)), tw.Prop(32, der)), label: "Zoë's 😀 cert"},
		{name: "friendly name without NUL", data: tw.Element(tw.Prop(11, tw.UTF16LE("bare", false)), tw.Prop(32, der)), label: "bare"},
		{name: "machine key", data: tw.Element(tw.Prop(2, tw.KeyProvInfo("k", "p", 0, 0x20, 0)), tw.Prop(32, der)), machine: true},
		{name: "short key provider info", data: tw.Element(tw.Prop(2, []byte{1, 2, 3}), tw.Prop(32, der)), kpiErr: "3 bytes, want at least 28"},
		{name: "key provider string outside the value",
			data:   tw.Element(tw.Prop(2, append(binary.LittleEndian.AppendUint32(nil, 999), make([]byte, 24)...)), tw.Prop(32, der)),
			kpiErr: "outside"},
		{name: "end marker after the element", data: tw.Element(tw.Prop(32, der), tw.EndMarker)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			el, err := ParseElement(tc.data)
			require.NoError(t, err)
			assert.Equal(t, der, el.Certificate())
			name, err := el.FriendlyName()
			require.NoError(t, err)
			assert.Equal(t, tc.label, name)
			kpi, err := el.KeyProvInfo()
			if tc.kpiErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.kpiErr)
				return
			}
			require.NoError(t, err)
			if kpi != nil {
				assert.Equal(t, tc.machine, kpi.MachineKey())
			}
		})
	}
}

func TestCorruptElements(t *testing.T) {
	der := certDER(t, "corrupt")
	good := tw.Element(tw.Prop(3, sha1Of(der)), tw.Prop(11, tw.UTF16LE("n", true)), tw.Prop(32, der))
	reserved0 := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(reserved0[4:], 0)
	longLen := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(longLen[8:], 0xffffffff)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "no properties"},
		{"header cut short", good[:11], "truncated"},
		{"reserved word not 1", reserved0, "reserved word is 0"},
		{"length past the end", longLen, "runs past the end"},
		{"value cut short", good[:len(good)-1], "runs past the end"},
		{"two certificate properties", tw.Element(tw.Prop(32, der), tw.Prop(32, der)), "second context property"},
		{"bytes after the end marker", append(tw.Element(tw.Prop(32, der), tw.EndMarker), 1), "after the end marker"},
		{"only an end marker", tw.EndMarker, "no properties"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseElement(tc.data)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestParseStore(t *testing.T) {
	der, der2 := certDER(t, "one"), certDER(t, "two")
	sst := tw.Store(
		tw.Prop(3, sha1Of(der)), tw.Prop(32, der), // element 1
		tw.Prop(33, []byte{0x30, 0x00}),                         // a CRL element
		tw.Prop(11, tw.UTF16LE("two", true)), tw.Prop(32, der2), // element 2
		tw.EndMarker,
	)
	cases := []struct {
		name     string
		data     []byte
		contexts []uint32 // of the elements handed out, in order
		wantErr  string
	}{
		{name: "two certificates and a CRL", data: sst, contexts: []uint32{PropCert, PropCRL, PropCert}},
		{name: "no end marker, nothing cut", data: sst[:len(sst)-12], contexts: []uint32{PropCert, PropCRL, PropCert}},
		{name: "cut inside the second certificate", data: sst[:len(sst)-20], contexts: []uint32{PropCert, PropCRL}, wantErr: "runs past the end"},
		{name: "no context before the end", data: tw.Store(tw.Prop(3, sha1Of(der)), tw.EndMarker), wantErr: "no context property"},
		{name: "cut inside a header", data: append(tw.Store(), 1, 2, 3), wantErr: "truncated"},
		{name: "an element is not a store", data: tw.Element(tw.Prop(32, der)), wantErr: "no serialized store header"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			els, err := ParseStore(tc.data)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
			} else {
				require.NoError(t, err)
			}
			var got []uint32
			for _, el := range els {
				got = append(got, el.Context())
			}
			assert.Equal(t, tc.contexts, got)
		})
	}
}

func TestSniff(t *testing.T) {
	der := certDER(t, "sniff")
	cases := []struct {
		name   string
		head   []byte
		maxLen uint32
		want   bool
	}{
		{"element", tw.Element(tw.Prop(3, sha1Of(der)), tw.Prop(32, der)), 1 << 20, true},
		{"property longer than the limit", tw.Element(tw.Prop(32, der)), 100, false},
		{"serialized store", tw.Store(tw.Prop(32, der)), 1, true},
		{"only an end marker", tw.EndMarker, 1 << 20, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Sniff(tc.head, tc.maxLen))
		})
	}
}

func BenchmarkParseElement(b *testing.B) {
	der := certDER(b, "bench")
	data := tw.Element(tw.Prop(3, sha1Of(der)), tw.Prop(11, tw.UTF16LE("bench", true)), tw.Prop(2, tw.KeyProvInfo("c", "p", 1, 0, 2)), tw.Prop(32, der))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		el, err := ParseElement(data)
		if err != nil || el.Certificate() == nil {
			b.Fatal(err)
		}
	}
}

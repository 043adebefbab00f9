// Package testkeychain writes small keychain files ("kych" format) for tests: a
// certificate table holding given DERs and print names, and a private-key
// table holding given labels, laid out as macOS lays them out (big-endian,
// a schema section of tables, records with attribute offset words). It lets
// tests of the keychain reader, and of anything that dispatches to it, stand
// alone without real keychains. It is test support, not a keychain writer for
// real use: it writes no indexes, no DB blob and no encrypted keys.
package testkeychain

import (
	"encoding/binary"
)

// Table ids and attribute formats, written here apart from the parser
// (stores/keychain/internal/kcfile) on purpose: a writer that shared the
// parser's constants could not catch a wrong one, and the real keychains in
// stores/keychain/testdata/real check both against macOS.
const (
	tableSchemaInfo       = 0x00000000
	tableSchemaAttributes = 0x00000002
	tablePrivateKey       = 0x00000010
	tableX509Certificate  = 0x80001000

	formatString = 0
	formatUInt32 = 2
	formatBlob   = 6
)

// Cert is one certificate record.
type Cert struct {
	DER       []byte
	PrintName string // written NUL-free, as macOS writes certificate labels
	// PublicKeyHash is written as the 'hpky' attribute; nil writes none.
	PublicKeyHash []byte
}

// Keychain describes the file to write.
type Keychain struct {
	Certs []Cert
	// KeyLabels are the Label attributes of private key records, one record
	// each; macOS sets them to the key's public-key hash.
	KeyLabels [][]byte
	// NoCertTable leaves out the certificate table (as in a login keychain
	// that never held a certificate).
	NoCertTable bool
	// NoSchema leaves out the SchemaInfo and SchemaAttributes tables, so a
	// reader must know the certificate and key table layouts itself.
	NoSchema bool
}

// Layout gives the file offsets of every structure written, for tests that
// cut or corrupt a file at a chosen place.
type Layout struct {
	SchemaOffset int
	Tables       []TableLayout
}

// TableLayout is where one table was written.
type TableLayout struct {
	ID      uint32
	Offset  int
	Records []RecordLayout
}

// RecordLayout is where one record was written.
type RecordLayout struct {
	Offset     int // the record header (RecordSize first)
	AttrOffset int // the first attribute offset word
	DataOffset int // the data blob
	ValueStart int // the first attribute value
	End        int
}

// Boundaries lists every structural boundary of the file in ascending
// order: header end, schema, table and record starts, data and value starts.
func (l Layout) Boundaries() []int {
	out := []int{4, 8, 16, 20, l.SchemaOffset + 4, l.SchemaOffset + 8}
	for _, t := range l.Tables {
		out = append(out, t.Offset, t.Offset+4, t.Offset+28)
		for _, r := range t.Records {
			out = append(out, r.Offset, r.Offset+16, r.AttrOffset, r.DataOffset, r.ValueStart, r.End)
		}
	}
	return out
}

type attr struct {
	id     uint32
	name   string
	format uint32
}

type record struct {
	data   []byte
	values map[uint32][]byte // attribute id → encoded value
}

type table struct {
	id      uint32
	attrs   []attr
	records []record
}

var certAttrs = []attr{
	{0x63747970, "CertType", formatUInt32},
	{0x63656e63, "CertEncoding", formatUInt32},
	{0x6c61626c, "PrintName", formatBlob},
	{0x616c6973, "Alias", formatBlob},
	{0x7375626a, "Subject", formatBlob},
	{0x69737375, "Issuer", formatBlob},
	{0x736e6272, "SerialNumber", formatBlob},
	{0x736b6964, "SubjectKeyIdentifier", formatBlob},
	{0x68706b79, "PublicKeyHash", formatBlob},
}

func keyAttrs() []attr {
	names := []string{"KeyClass", "PrintName", "Alias", "Permanent", "Private", "Modifiable", "Label",
		"ApplicationTag", "KeyCreator", "KeyType", "KeySizeInBits", "EffectiveKeySize", "StartDate",
		"EndDate", "Sensitive", "AlwaysSensitive", "Extractable", "NeverExtractable", "Encrypt",
		"Decrypt", "Derive", "Sign", "Verify", "SignRecover", "VerifyRecover", "Wrap", "Unwrap"}
	out := make([]attr, len(names))
	for i, n := range names {
		out[i] = attr{uint32(i), n, formatUInt32}
		switch i {
		case 1, 2, 6, 7, 8, 12, 13:
			out[i].format = formatBlob
		}
	}
	return out
}

var schemaAttrsAttrs = []attr{
	{0, "RelationID", formatUInt32}, {1, "AttributeID", formatUInt32},
	{2, "AttributeNameFormat", formatUInt32}, {3, "AttributeName", formatString},
	{4, "AttributeNameID", formatBlob}, {5, "AttributeFormat", formatUInt32},
}

var schemaInfoAttrs = []attr{{0, "RelationID", formatUInt32}, {1, "RelationName", formatString}}

// Bytes writes the keychain.
func (k Keychain) Bytes() []byte {
	b, _ := k.Build()
	return b
}

// Build writes the keychain and says where each structure went.
func (k Keychain) Build() ([]byte, Layout) {
	var tables []table
	rels := []struct {
		id    uint32
		name  string
		attrs []attr
	}{{tableSchemaInfo, "SchemaInfo", schemaInfoAttrs}, {tableSchemaAttributes, "SchemaAttributes", schemaAttrsAttrs}, {tablePrivateKey, "PrivateKey", keyAttrs()}}
	if !k.NoCertTable {
		rels = append(rels, struct {
			id    uint32
			name  string
			attrs []attr
		}{tableX509Certificate, "X509Certificate", certAttrs})
	}
	if !k.NoSchema {
		info := table{id: tableSchemaInfo, attrs: schemaInfoAttrs}
		sa := table{id: tableSchemaAttributes, attrs: schemaAttrsAttrs}
		for _, rel := range rels {
			info.records = append(info.records, record{values: map[uint32][]byte{0: u32(rel.id), 1: []byte(rel.name)}})
			for _, a := range rel.attrs {
				sa.records = append(sa.records, record{values: map[uint32][]byte{
					0: u32(rel.id), 1: u32(a.id), 2: u32(2), 3: []byte(a.name), 5: u32(a.format),
				}})
			}
		}
		tables = append(tables, info, sa)
	}
	keys := table{id: tablePrivateKey, attrs: keyAttrs()}
	for i, l := range k.KeyLabels {
		// The data blob stands in for an encrypted key blob (magic 0xFADE0711).
		keys.records = append(keys.records, record{
			data: append([]byte{0xfa, 0xde, 0x07, 0x11}, make([]byte, 28)...),
			values: map[uint32][]byte{0: u32(16), 1: []byte("key " + string(rune('A'+i%26)) + "\x00"),
				6: l, 9: u32(42), 10: u32(2048)},
		})
	}
	tables = append(tables, keys)
	if !k.NoCertTable {
		certs := table{id: tableX509Certificate, attrs: certAttrs}
		for _, c := range k.Certs {
			v := map[uint32][]byte{0x63747970: u32(1), 0x63656e63: u32(3)}
			if c.PrintName != "" {
				v[0x6c61626c] = []byte(c.PrintName)
				v[0x616c6973] = []byte(c.PrintName)
			}
			if c.PublicKeyHash != nil {
				v[0x68706b79] = c.PublicKeyHash
			}
			certs.records = append(certs.records, record{data: c.DER, values: v})
		}
		tables = append(tables, certs)
	}
	return write(tables)
}

func write(tables []table) ([]byte, Layout) {
	const schemaOff = 20
	out := []byte("kych")
	out = append(out, u32(0x00010000)...)
	out = append(out, u32(16)...)
	out = append(out, u32(schemaOff)...)
	out = append(out, u32(0)...)
	lay := Layout{SchemaOffset: schemaOff}

	schema := make([]byte, 8+4*len(tables))
	for i, t := range tables {
		binary.BigEndian.PutUint32(schema[8+4*i:], uint32(len(schema)))
		tb, tl := writeTable(t, schemaOff+len(schema))
		lay.Tables = append(lay.Tables, tl)
		schema = append(schema, tb...)
	}
	binary.BigEndian.PutUint32(schema[0:], uint32(len(schema)))
	binary.BigEndian.PutUint32(schema[4:], uint32(len(tables)))
	return append(out, schema...), lay
}

// writeTable writes one table that will sit at file offset base.
func writeTable(t table, base int) ([]byte, TableLayout) {
	slots := max(len(t.records), 1) // an empty table keeps one free slot
	head := 28 + 4*slots
	b := make([]byte, head)
	tl := TableLayout{ID: t.id, Offset: base}
	for i, r := range t.records {
		binary.BigEndian.PutUint32(b[28+4*i:], uint32(len(b)))
		rb, rl := writeRecord(t.attrs, r, uint32(i), base+len(b))
		tl.Records = append(tl.Records, rl)
		b = append(b, rb...)
	}
	binary.BigEndian.PutUint32(b[0:], uint32(len(b)))
	binary.BigEndian.PutUint32(b[4:], t.id)
	binary.BigEndian.PutUint32(b[8:], uint32(len(t.records)))
	binary.BigEndian.PutUint32(b[12:], uint32(head))
	binary.BigEndian.PutUint32(b[16:], uint32(len(b)))
	binary.BigEndian.PutUint32(b[24:], uint32(slots))
	return b, tl
}

func writeRecord(attrs []attr, r record, number uint32, base int) ([]byte, RecordLayout) {
	head := 24 + 4*len(attrs)
	b := make([]byte, head)
	b = append(b, r.data...)
	b = pad(b)
	rl := RecordLayout{Offset: base, AttrOffset: base + 24, DataOffset: base + head, ValueStart: base + len(b)}
	for i, a := range attrs {
		v, ok := r.values[a.id]
		if !ok {
			continue
		}
		binary.BigEndian.PutUint32(b[24+4*i:], uint32(len(b))|1) // one value, here
		if a.format == formatUInt32 {
			b = append(b, v...)
			continue
		}
		b = append(b, u32(uint32(len(v)))...)
		b = pad(append(b, v...))
	}
	binary.BigEndian.PutUint32(b[0:], uint32(len(b)))
	binary.BigEndian.PutUint32(b[4:], number)
	binary.BigEndian.PutUint32(b[16:], uint32(len(r.data)))
	rl.End = base + len(b)
	return b, rl
}

func pad(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// Package kcfile parses the layout of macOS keychain files (.keychain and
// .keychain-db: Apple's AppleFileDL, a CSSM database in one file): header,
// schema, tables, records and their attributes. Only the layout is parsed;
// nothing is decrypted. The store reader (package keychain) decides what a
// record means for an entry. It sits under internal/ so that the format's
// identifiers are not public API of the module: nothing outside the reader
// needs them, and keeping them private leaves the layout free to follow what
// macOS is found to write.
package kcfile

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Magic is the first four bytes of every keychain file (.keychain and
// .keychain-db alike): Apple's FOUR_CHAR_CODE('kych').
const Magic = "kych"

// headerVersion is the only file version Apple's AppleDatabase writes.
const headerVersion = 0x00010000

// Table ids (CSSM record types) that the reader uses.
const (
	TableSchemaInfo       uint32 = 0x00000000
	TableSchemaAttributes uint32 = 0x00000002
	TablePublicKey        uint32 = 0x0000000F
	TablePrivateKey       uint32 = 0x00000010
	TableX509Certificate  uint32 = 0x80001000
)

// Attribute ids. Certificate attributes are FourCCs; key attributes are
// small integers (CSSM_DL_DB_RECORD_*_KEY schema).
const (
	AttrCertPrintName     uint32 = 0x6c61626c // 'labl'
	AttrCertPublicKeyHash uint32 = 0x68706b79 // 'hpky'
	AttrKeyPrintName      uint32 = 1
	AttrKeyLabel          uint32 = 6 // the public-key hash for private and public keys
)

// Attribute formats (CSSM_DB_ATTRIBUTE_FORMAT_*).
const (
	FormatString      uint32 = 0
	FormatSInt32      uint32 = 1
	FormatUInt32      uint32 = 2
	FormatBigNum      uint32 = 3
	FormatReal        uint32 = 4
	FormatTimeDate    uint32 = 5
	FormatBlob        uint32 = 6
	FormatMultiUInt32 uint32 = 7
	FormatComplex     uint32 = 8
)

// Sizes of fixed parts of the layout.
const (
	fileHeaderSize   = 20 // magic, version, auth offset, schema offset, reserved
	tableHeaderSize  = 28 // size, id, records, records offset, indexes offset, free list, record numbers
	recordHeaderSize = 24 // size, number, create version, record version, data size, semantic info
	// maxValues bounds a multi-valued attribute's count so a corrupt word
	// cannot make the parser loop for long.
	maxValues = 1 << 16
	// maxProblems caps File.Problems; the rest are counted in one more.
	maxProblems = 100
)

// ErrNotKeychain is returned for data that does not start with the magic.
var ErrNotKeychain = errors.New("not a keychain file (no \"kych\" magic)")

// File is a parsed keychain: its tables and their records. Only the layout is
// parsed; nothing is decrypted.
type File struct {
	Version uint32
	Tables  []*Table
	// Problems lists tables and records that could not be read. They never
	// hide the tables and records that could.
	Problems []error
}

// Table is one relation of the keychain database.
type Table struct {
	ID     uint32
	Offset int // from the start of the file
	// Attributes describes the attribute words of each record, in record
	// order, from the SchemaAttributes table (or built-in defaults for the
	// certificate and private key tables). Nil when unknown: then the
	// table's records are not parsed.
	Attributes []Attribute
	Records    []*Record
	// recordOffsets are the used slots of the record-number list.
	recordOffsets []int
	raw           []byte
}

// Attribute is one column of a table's schema.
type Attribute struct {
	ID     uint32
	Name   string
	Format uint32
}

// Record is one row of a table.
type Record struct {
	Offset int // from the start of the file
	Number uint32
	// Data is the record's data blob for the certificate table (the DER).
	// It is left nil for every other table: there it holds encrypted keys
	// and passwords, which this package never hands out.
	Data  []byte
	table *Table
	raw   []byte   // the record's bytes, RecordSize long
	words []uint32 // one attribute offset word per schema attribute
}

// Table returns the first table with the given id, or nil.
func (f *File) Table(id uint32) *Table {
	for _, t := range f.Tables {
		if t.ID == id {
			return t
		}
	}
	return nil
}

// ParseFile parses a keychain file held in memory. It fails only when the
// header or the schema section is unreadable; damage inside one table or
// record is listed in File.Problems.
func ParseFile(data []byte) (*File, error) { return ParseFileContext(context.Background(), data) }

// ParseFileContext is ParseFile that gives up when ctx ends.
//
// The parser's work is bounded by the file's size, whatever the offsets
// say: tables may not overlap one another and records may not overlap
// within a table (real files never do either), so no byte is parsed as
// part of two tables or two records, and a crafted file cannot make the
// parser revisit the same data again and again.
func ParseFileContext(ctx context.Context, data []byte) (*File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(data) < len(Magic) || string(data[:len(Magic)]) != Magic {
		return nil, ErrNotKeychain
	}
	if len(data) < fileHeaderSize {
		return nil, fmt.Errorf("keychain header truncated: %d bytes, want %d", len(data), fileHeaderSize)
	}
	f := &File{Version: be32(data, 4)}
	if f.Version != headerVersion {
		return nil, fmt.Errorf("unsupported keychain version %#08x", f.Version)
	}
	schemaOff := int(be32(data, 12))
	if schemaOff < fileHeaderSize || schemaOff > len(data)-8 {
		return nil, fmt.Errorf("schema offset %d outside the file (%d bytes)", schemaOff, len(data))
	}
	schemaSize := int(be32(data, schemaOff))
	count := int(be32(data, schemaOff+4))
	if schemaSize < 8 || schemaSize > len(data)-schemaOff {
		return nil, fmt.Errorf("schema size %d at offset %d exceeds the file (%d bytes)", schemaSize, schemaOff, len(data))
	}
	if count > (schemaSize-8)/4 {
		return nil, fmt.Errorf("schema lists %d tables, more than its %d bytes hold", count, schemaSize)
	}
	schema := data[schemaOff : schemaOff+schemaSize]
	// Headers first (constant work each), then refuse overlaps, then parse
	// the tables that remain, in schema order.
	type span struct{ i, off, size int }
	var spans []span
	for i := range count {
		rel := int(be32(schema, 8+4*i))
		off, size, err := tableSpan(data, schemaOff, rel)
		if err != nil {
			f.Problems = append(f.Problems, fmt.Errorf("table %d of %d: %w", i+1, count, err))
			continue
		}
		spans = append(spans, span{i, off, size})
	}
	byOff := slices.Clone(spans)
	slices.SortStableFunc(byOff, func(a, b span) int { return a.off - b.off })
	keep := make(map[int]bool, len(byOff))
	end := 0
	for _, sp := range byOff {
		if sp.off < end {
			f.Problems = append(f.Problems, fmt.Errorf("table %d of %d at offset %d overlaps another table", sp.i+1, count, sp.off))
			continue
		}
		end = sp.off + sp.size
		keep[sp.i] = true
	}
	for _, sp := range spans {
		if !keep[sp.i] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t, err := parseTable(data, sp.off, sp.size)
		if err != nil {
			f.Problems = append(f.Problems, fmt.Errorf("table %d of %d: %w", sp.i+1, count, err))
			continue
		}
		f.Tables = append(f.Tables, t)
	}
	attrs, problems := schemaAttributes(ctx, f.Table(TableSchemaAttributes))
	f.Problems = append(f.Problems, problems...)
	for _, t := range f.Tables {
		switch {
		case t.ID == TableSchemaAttributes:
			continue // parsed above
		case attrs[t.ID] != nil:
			t.Attributes = attrs[t.ID]
		case defaultAttributes[t.ID] != nil:
			t.Attributes = defaultAttributes[t.ID]
		default:
			continue
		}
		f.Problems = append(f.Problems, t.parseRecords(ctx)...)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if n := len(f.Problems); n > maxProblems {
		f.Problems = append(f.Problems[:maxProblems:maxProblems], fmt.Errorf("and %d more problems", n-maxProblems))
	}
	return f, nil
}

// tableSpan checks a table's offset and size; rel is the table's offset
// from the schema section start. Tables are bounded by the file rather than
// the schema size so a slightly wrong size loses nothing.
func tableSpan(data []byte, schemaOff, rel int) (off, size int, err error) {
	off = schemaOff + rel
	if rel < 8 || off > len(data)-tableHeaderSize {
		return 0, 0, fmt.Errorf("table offset %d (schema-relative %d) outside the file (%d bytes)", off, rel, len(data))
	}
	size = int(be32(data, off))
	if size < tableHeaderSize || size > len(data)-off {
		return 0, 0, fmt.Errorf("table at offset %d: size %d exceeds the file (%d bytes)", off, size, len(data))
	}
	return off, size, nil
}

// parseTable reads a table header and its record-number list.
func parseTable(data []byte, off, size int) (*Table, error) {
	raw := data[off : off+size]
	t := &Table{ID: be32(raw, 4), Offset: off, raw: raw}
	n := int(be32(raw, 24))
	if n > (size-tableHeaderSize)/4 {
		return nil, fmt.Errorf("table %#x at offset %d: %d record slots, more than its %d bytes hold", t.ID, off, n, size)
	}
	for i := range n {
		ro := int(be32(raw, tableHeaderSize+4*i))
		if ro == 0 || ro&1 == 1 {
			continue // a free slot
		}
		t.recordOffsets = append(t.recordOffsets, ro)
	}
	return t, nil
}

// parseRecords reads the header and attribute words of every record of t.
func (t *Table) parseRecords(ctx context.Context) []error {
	var problems []error
	n := len(t.Attributes)
	// Records never overlap in a real file. Refusing overlaps keeps the
	// work linear in the file size: a crafted file cannot point thousands
	// of slots at one large record.
	offs := slices.Clone(t.recordOffsets)
	slices.Sort(offs)
	end := 0
	for i, ro := range offs {
		if i%1024 == 1023 && ctx.Err() != nil {
			return append(problems, ctx.Err())
		}
		if ro < end {
			problems = append(problems, fmt.Errorf("table %#x, record at offset %d overlaps the record before it", t.ID, t.Offset+ro))
			continue
		}
		r, err := t.parseRecord(ro, n)
		if err != nil {
			problems = append(problems, fmt.Errorf("table %#x, record at offset %d: %w", t.ID, t.Offset+ro, err))
			continue
		}
		end = ro + len(r.raw)
		t.Records = append(t.Records, r)
	}
	return problems
}

func (t *Table) parseRecord(ro, nattrs int) (*Record, error) {
	if ro > len(t.raw)-recordHeaderSize {
		return nil, fmt.Errorf("record header outside the table (%d bytes)", len(t.raw))
	}
	size := int(be32(t.raw, ro))
	if size < recordHeaderSize || size > len(t.raw)-ro {
		return nil, fmt.Errorf("record size %d exceeds the table", size)
	}
	raw := t.raw[ro : ro+size]
	head := recordHeaderSize + 4*nattrs
	if head > size {
		return nil, fmt.Errorf("record of %d bytes cannot hold %d attribute offsets", size, nattrs)
	}
	r := &Record{Offset: t.Offset + ro, Number: be32(raw, 4), table: t, raw: raw, words: make([]uint32, nattrs)}
	for i := range r.words {
		r.words[i] = be32(raw, recordHeaderSize+4*i)
	}
	dataSize := int(be32(raw, 16))
	if dataSize > size-head {
		return nil, fmt.Errorf("data size %d exceeds the record (%d bytes)", dataSize, size)
	}
	if t.ID == TableX509Certificate {
		r.Data = raw[head : head+dataSize]
	}
	return r, nil
}

// Value returns the first value of the attribute with the given id, decoded
// per its format: the bytes of a string or blob, 4 bytes of an integer, 16
// of a date. It returns nil, nil when the record has no value for it or the
// table has no such attribute.
func (r *Record) Value(attrID uint32) ([]byte, error) {
	for i, a := range r.table.Attributes {
		if a.ID == attrID {
			vals, err := r.valuesAt(i, 1)
			if err != nil || len(vals) == 0 {
				return nil, err
			}
			return vals[0], nil
		}
	}
	return nil, nil
}

// Values returns every value of the attribute with the given id.
func (r *Record) Values(attrID uint32) ([][]byte, error) {
	for i, a := range r.table.Attributes {
		if a.ID == attrID {
			return r.valuesAt(i, maxValues)
		}
	}
	return nil, nil
}

// valuesAt decodes at most limit values of attribute i.
func (r *Record) valuesAt(i, limit int) ([][]byte, error) {
	a := r.table.Attributes[i]
	w := r.words[i]
	if w == 0 {
		return nil, nil
	}
	off, count := int(w&^1), 1
	if w&1 == 0 {
		// An even word points at a value count, the values follow it.
		if off > len(r.raw)-4 {
			return nil, fmt.Errorf("attribute %#x: value count offset %d outside the record", a.ID, off)
		}
		count = int(be32(r.raw, off))
		off += 4
		// Every value takes at least 4 bytes.
		if count > maxValues || count > (len(r.raw)-off)/4 {
			return nil, fmt.Errorf("attribute %#x: implausible value count %d", a.ID, count)
		}
	}
	var vals [][]byte
	for range min(count, limit) {
		v, next, err := readValue(r.raw, off, a.Format)
		if err != nil {
			return nil, fmt.Errorf("attribute %#x: %w", a.ID, err)
		}
		vals = append(vals, v)
		off = next
	}
	return vals, nil
}

// readValue decodes one value of the given format at off in rec and returns
// it with the offset of the next value.
func readValue(rec []byte, off int, format uint32) ([]byte, int, error) {
	if off < 0 || off > len(rec) {
		return nil, 0, fmt.Errorf("value offset %d outside the record (%d bytes)", off, len(rec))
	}
	fixed := 0
	switch format {
	case FormatSInt32, FormatUInt32:
		fixed = 4
	case FormatReal:
		fixed = 8
	case FormatTimeDate:
		fixed = 16
	}
	if fixed > 0 {
		if fixed > len(rec)-off {
			return nil, 0, fmt.Errorf("%d-byte value at offset %d runs past the record", fixed, off)
		}
		return rec[off : off+fixed], off + fixed, nil
	}
	// Strings, blobs, big numbers and the rest: a length, then the bytes
	// padded to a multiple of 4.
	if off > len(rec)-4 {
		return nil, 0, fmt.Errorf("value length at offset %d runs past the record", off)
	}
	n := int(be32(rec, off))
	off += 4
	if n > len(rec)-off {
		return nil, 0, fmt.Errorf("value of %d bytes at offset %d runs past the record (%d bytes)", n, off, len(rec))
	}
	next := off + n
	next += (4 - next%4) % 4
	next = min(next, len(rec))
	return rec[off : off+n], next, nil
}

// schemaAttributes reads the SchemaAttributes table into relation id →
// attributes in record order. Its own records have a fixed layout.
func schemaAttributes(ctx context.Context, t *Table) (map[uint32][]Attribute, []error) {
	out := map[uint32][]Attribute{}
	if t == nil {
		return out, nil
	}
	t.Attributes = schemaAttributesColumns
	problems := t.parseRecords(ctx)
	for _, r := range t.Records {
		rel, err1 := r.uint32(0)
		id, err2 := r.uint32(1)
		name, err3 := r.Value(attrSchemaName)
		format, err4 := r.uint32(5)
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			problems = append(problems, fmt.Errorf("schema attribute record at offset %d: %w", r.Offset, err))
			continue
		}
		out[rel] = append(out[rel], Attribute{ID: id, Name: trimNUL(name), Format: format})
	}
	return out, problems
}

// uint32 returns the attribute with the given id as an integer; 0 when absent.
func (r *Record) uint32(attrID uint32) (uint32, error) {
	v, err := r.Value(attrID)
	if err != nil || v == nil {
		return 0, err
	}
	if len(v) != 4 {
		return 0, fmt.Errorf("attribute %#x: %d bytes, want 4", attrID, len(v))
	}
	return binary.BigEndian.Uint32(v), nil
}

const attrSchemaName = 3

// schemaAttributesColumns is the fixed schema of the SchemaAttributes table
// (Apple's CSSM_DL_DB_SCHEMA_ATTRIBUTES relation).
var schemaAttributesColumns = []Attribute{
	{0, "RelationID", FormatUInt32},
	{1, "AttributeID", FormatUInt32},
	{2, "AttributeNameFormat", FormatUInt32},
	{3, "AttributeName", FormatString},
	{4, "AttributeNameID", FormatBlob},
	{5, "AttributeFormat", FormatUInt32},
}

// defaultAttributes are the schemas that macOS writes for the tables this
// package reads, used when a file's SchemaAttributes table lacks them.
var defaultAttributes = map[uint32][]Attribute{
	TableX509Certificate: {
		{0x63747970, "CertType", FormatUInt32},
		{0x63656e63, "CertEncoding", FormatUInt32},
		{AttrCertPrintName, "PrintName", FormatBlob},
		{0x616c6973, "Alias", FormatBlob},
		{0x7375626a, "Subject", FormatBlob},
		{0x69737375, "Issuer", FormatBlob},
		{0x736e6272, "SerialNumber", FormatBlob},
		{0x736b6964, "SubjectKeyIdentifier", FormatBlob},
		{AttrCertPublicKeyHash, "PublicKeyHash", FormatBlob},
	},
	TablePrivateKey: keyAttributes(),
}

func keyAttributes() []Attribute {
	names := []string{"KeyClass", "PrintName", "Alias", "Permanent", "Private", "Modifiable", "Label",
		"ApplicationTag", "KeyCreator", "KeyType", "KeySizeInBits", "EffectiveKeySize", "StartDate",
		"EndDate", "Sensitive", "AlwaysSensitive", "Extractable", "NeverExtractable", "Encrypt",
		"Decrypt", "Derive", "Sign", "Verify", "SignRecover", "VerifyRecover", "Wrap", "Unwrap"}
	blobs := map[int]bool{1: true, 2: true, 6: true, 7: true, 8: true, 12: true, 13: true}
	out := make([]Attribute, len(names))
	for i, n := range names {
		out[i] = Attribute{ID: uint32(i), Name: n, Format: FormatUInt32}
		if blobs[i] {
			out[i].Format = FormatBlob
		}
	}
	return out
}

// be32 reads a big-endian word; callers check bounds first.
func be32(b []byte, off int) uint32 { return binary.BigEndian.Uint32(b[off : off+4]) }

// trimNUL drops the NUL terminators that keychain strings often carry.
func trimNUL(b []byte) string {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return string(b)
}

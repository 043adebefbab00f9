package kcfile

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// craftRepeats builds a keychain whose schema lists one certificate table
// tables times and whose table lists one record slots times: offsets that
// point at the same data again and again (the file is about 4*(tables+
// slots) bytes).
func craftRepeats(t testing.TB, der []byte, tables, slots int) []byte {
	t.Helper()
	u32 := func(b []byte, v int) []byte { return binary.BigEndian.AppendUint32(b, uint32(v)) }
	// The record: header, 9 attribute words (none set), then the DER.
	rec := u32(nil, 0) // size, patched below
	rec = u32(rec, 1)  // number
	rec = u32(rec, 0)
	rec = u32(rec, 0)
	rec = u32(rec, len(der)) // data size
	rec = u32(rec, 0)
	for range len(defaultAttributes[TableX509Certificate]) {
		rec = u32(rec, 0)
	}
	rec = append(rec, der...)
	for len(rec)%4 != 0 {
		rec = append(rec, 0)
	}
	binary.BigEndian.PutUint32(rec, uint32(len(rec)))

	recOff := tableHeaderSize + 4*slots
	tbl := u32(nil, recOff+len(rec))
	tbl = u32(tbl, int(TableX509Certificate))
	tbl = u32(tbl, slots)
	tbl = u32(tbl, tableHeaderSize)
	tbl = u32(tbl, 0)
	tbl = u32(tbl, 0)
	tbl = u32(tbl, slots)
	for range slots {
		tbl = u32(tbl, recOff)
	}
	tbl = append(tbl, rec...)

	tableRel := 8 + 4*tables
	schema := u32(nil, tableRel+len(tbl))
	schema = u32(schema, tables)
	for range tables {
		schema = u32(schema, tableRel)
	}
	schema = append(schema, tbl...)

	data := []byte(Magic)
	data = u32(data, headerVersion)
	data = u32(data, 0)
	data = u32(data, fileHeaderSize)
	data = u32(data, 0)
	return append(data, schema...)
}

// TestRepeatedOffsetsCostNothing: a 64 KiB keychain whose table and record
// offsets point at the same data thousands of times is parsed once: one
// table, one record, a bounded list of problems. (Before: every table
// offset re-parsed the table and every record slot, 57 s and 1.1 GB for
// 16 KiB.)
func TestRepeatedOffsetsCostNothing(t *testing.T) {
	der := newCert(t, "repeated").Raw
	data := craftRepeats(t, der, 8000, 8000)
	require.Greater(t, len(data), 60<<10)
	f, err := ParseFileContext(context.Background(), data)
	require.NoError(t, err)
	require.Len(t, f.Tables, 1, "the table is parsed once")
	require.Len(t, f.Tables[0].Records, 1, "the record is parsed once")
	certs, _ := f.Certificates()
	assert.Len(t, certs, 1)
	assert.LessOrEqual(t, len(f.Problems), maxProblems+1, "problems are capped")

	// A deadline ends the parse.
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err = ParseFileContext(ctx, data)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

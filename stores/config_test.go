package stores

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewReaderConfig(t *testing.T) {
	cases := []struct {
		name string
		opts []Option
		want ReaderConfig // Log is checked apart
	}{
		{name: "defaults", want: ReaderConfig{Kind: KindPEM}},
		{name: "root", opts: []Option{WithRoot("/mnt/image")}, want: ReaderConfig{Kind: KindPEM, Root: "/mnt/image"}},
		{name: "recursive", opts: []Option{Recursive()}, want: ReaderConfig{Kind: KindPEM, Recursive: true}},
		{name: "later options win", opts: []Option{WithRoot("/a"), Recursive(), WithRoot("/b")},
			want: ReaderConfig{Kind: KindPEM, Root: "/b", Recursive: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewReaderConfig(KindPEM, nil, tc.opts...)
			require.NotNil(t, c.Log, "a nil logger discards, it never panics")
			c.Log = nil
			assert.Equal(t, tc.want, c)
		})
	}
}

func TestReaderConfigItemError(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := NewReaderConfig(KindNSSDB, logger)
	cause := errors.New("boom")
	err := c.ItemError("/db", "cert9.db", cause)

	var ie *ItemError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, ItemError{Store: KindNSSDB, Path: "/db", Item: "cert9.db", Err: cause}, *ie)
	assert.ErrorIs(t, err, cause)
	assert.Contains(t, buf.String(), "store=nssdb", "the log carries the store kind")
	assert.Contains(t, buf.String(), "item=cert9.db")
}

func TestReaderConfigReadPath(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"b.pem", "a.pem", "c.pem"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), nil, 0o600))
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o700))
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	type call struct {
		name  string
		named bool
	}
	cases := []struct {
		name    string
		ctx     context.Context
		path    string
		stopAt  string // file returns false for this name
		want    []call
		wantErr error
	}{
		{name: "a named file", ctx: t.Context(), path: filepath.Join(dir, "b.pem"), want: []call{{"b.pem", true}}},
		{name: "a folder: each entry in name order, not descending", ctx: t.Context(), path: dir,
			want: []call{{"a.pem", false}, {"b.pem", false}, {"c.pem", false}, {"sub", false}}},
		{name: "the reader stops", ctx: t.Context(), path: dir, stopAt: "b.pem", want: []call{{"a.pem", false}, {"b.pem", false}}},
		{name: "missing path", ctx: t.Context(), path: filepath.Join(dir, "nope"), wantErr: fs.ErrNotExist},
		{name: "context ended", ctx: cancelled, path: dir, wantErr: context.Canceled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewReaderConfig(KindPEM, nil)
			var got []call
			var errs []error
			c.ReadPath(tc.ctx, tc.path, func(_ Entry, err error) bool { errs = append(errs, err); return true },
				func(p string, entry fs.DirEntry) bool {
					got = append(got, call{filepath.Base(p), entry == nil})
					return filepath.Base(p) != tc.stopAt
				})
			assert.Equal(t, tc.want, got)
			if tc.wantErr == nil {
				assert.Empty(t, errs)
				return
			}
			require.Len(t, errs, 1)
			assert.ErrorIs(t, errs[0], tc.wantErr)
			var ie *ItemError
			require.ErrorAs(t, errs[0], &ie)
			assert.Equal(t, tc.path, ie.Path)
		})
	}
}

func TestResultSeqReplaysCollect(t *testing.T) {
	e1, e2 := Entry{Path: "/a"}, Entry{Path: "/b"}
	boom := errors.New("boom")
	res := Result{Entries: []Entry{e1, e2}, Errors: []error{boom}}
	assert.Equal(t, res, Collect(res.Seq()), "Collect(Seq) is the identity")

	var seen []string
	for e, err := range res.Seq() {
		if err != nil {
			seen = append(seen, err.Error())
			continue
		}
		seen = append(seen, e.Path)
		if e.Path == "/b" {
			break
		}
	}
	assert.Equal(t, []string{"/a", "/b"}, seen, "a consumer that stops is not called again")
	assert.Empty(t, Collect(Result{}.Seq()).Entries)
}

func TestKeyMatchString(t *testing.T) {
	cases := map[KeyMatch]string{KeyAbsent: "absent", KeyMatched: "matched", KeyLocked: "locked",
		KeyLinked: "linked", KeyMismatch: "mismatch", KeyUnknown: "unknown", KeyMatch(9): "KeyMatch(9)"}
	for k, want := range cases {
		assert.Equal(t, want, k.String())
	}
}

package stores

import (
	"bytes"
	"errors"
	"log/slog"
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

package winstr

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDecode(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, ""},
		{"NUL-terminated", []byte{'a', 0, 'b', 0, 0, 0, 'c', 0}, "ab"},
		{"no NUL: to the end", []byte{'a', 0, 'b', 0}, "ab"},
		{"odd last byte dropped", []byte{'a', 0, 'b'}, "a"},
		{"surrogate pair", []byte{0x3d, 0xd8, 0x00, 0xde, 0, 0}, "😀"},
		{"unpaired surrogate", []byte{0x3d, 0xd8, 'x', 0}, "\uFFFDx"},
		{"non-ASCII", []byte{0xeb, 0x00}, "ë"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Decode(tc.in))
		})
	}
}

package filestamp

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStampSeesEveryKindOfChange(t *testing.T) {
	past := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	write := func(t *testing.T, p, data string) {
		t.Helper()
		require.NoError(t, os.WriteFile(p, []byte(data), 0o600))
		require.NoError(t, os.Chtimes(p, past, past))
	}
	cases := []struct {
		name   string
		change func(t *testing.T, p string)
		same   bool
	}{
		{"untouched", func(*testing.T, string) {}, true},
		{"rewritten with the same bytes and time", func(t *testing.T, p string) { write(t, p, "version one") }, true},
		{"other size", func(t *testing.T, p string) { write(t, p, "version two, longer") }, false},
		{"same size, other time", func(t *testing.T, p string) {
			require.NoError(t, os.Chtimes(p, past, past.Add(time.Second)))
		}, false},
		{"renamed over, same size and time", func(t *testing.T, p string) {
			write(t, p+".new", "version ONE")
			require.NoError(t, os.Rename(p+".new", p))
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "f")
			write(t, p, "version one")
			before, err := Of(p)
			require.NoError(t, err)
			// Keep the old inode alive, so a rename cannot reuse its number:
			// by a second link, not an open handle (on Windows an open file
			// cannot be renamed over).
			require.NoError(t, os.Link(p, p+".old"))
			tc.change(t, p)
			after, err := Of(p)
			require.NoError(t, err)
			assert.Equal(t, tc.same, before.Same(after))
		})
	}
}

func TestStampRefusesWhatIsNotAFile(t *testing.T) {
	dir := t.TempDir()
	_, err := Of(dir)
	assert.ErrorContains(t, err, "not a regular file")
	_, err = Of(filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.False(t, Stamp{}.Same(Stamp{}), "the zero stamp matches nothing")
}

package keychain

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/stores"
	"github.com/certsight/certsight/stores/keychain/internal/kcfile"
)

// The macOS layout is found under a root, with the paths real on this
// machine; the Defaults of a Reader follow it on macOS only.
func TestMacOSDefaultsUnderRoot(t *testing.T) {
	write := func(t *testing.T, root, rel string) string {
		p := filepath.Join(root, filepath.FromSlash(rel))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
		require.NoError(t, os.WriteFile(p, []byte(kcfile.Magic), 0o600))
		return p
	}
	tests := []struct {
		name  string
		files []string
		want  func(root string) []stores.Source
	}{
		{"system and users", []string{
			"Library/Keychains/System.keychain",
			"Users/alice/Library/Keychains/login.keychain-db",
			"Users/Shared/Library/Keychains/login.keychain-db",
		}, func(root string) []stores.Source {
			return []stores.Source{
				{Path: filepath.Join(root, "Library", "Keychains", "System.keychain"), Location: stores.LocationSystem},
				{Path: filepath.Join(root, "Users", "alice", "Library", "Keychains", "login.keychain-db"), Location: stores.LocationUser, Username: "alice"},
			}
		}},
		{"users only", []string{"Users/bob/Library/Keychains/login.keychain"}, func(root string) []stores.Source {
			return []stores.Source{{Path: filepath.Join(root, "Users", "bob", "Library", "Keychains", "login.keychain"), Location: stores.LocationUser, Username: "bob"}}
		}},
		{"empty root", nil, func(string) []stores.Source { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, f := range tt.files {
				write(t, root, f)
			}
			want := tt.want(root)
			assert.Equal(t, want, macOSDefaults(context.Background(), New(nil).cfg.Log, root))
			if runtime.GOOS != "darwin" {
				want = nil // keychains are default stores on macOS only
			}
			assert.Equal(t, want, New(nil, WithRoot(root)).Defaults(context.Background()))
		})
	}
}

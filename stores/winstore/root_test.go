package winstore

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/stores"
)

// Under a root the profile folders of root\Users give the user stores, named
// by folder, without SIDs or registry stores; Defaults follows on Windows.
func TestRootedSources(t *testing.T) {
	my := func(root, user string) string {
		return filepath.Join(root, "Users", user, "AppData", "Roaming", "Microsoft", "SystemCertificates", "My", "Certificates")
	}
	tests := []struct {
		name  string
		dirs  []string // users whose My store folder exists
		other []string // other folders under Users
		want  func(root string) []stores.Source
	}{
		{"profiles with stores", []string{"alice", "bob", "Public", "Default"}, []string{"carol", ".hidden"}, func(root string) []stores.Source {
			return []stores.Source{
				{Path: my(root, "alice"), Location: stores.LocationUser, Username: "alice"},
				{Path: my(root, "bob"), Location: stores.LocationUser, Username: "bob"},
			}
		}},
		{"no Users folder", nil, nil, func(string) []stores.Source { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, u := range tt.dirs {
				require.NoError(t, os.MkdirAll(my(root, u), 0o755))
			}
			for _, u := range tt.other {
				require.NoError(t, os.MkdirAll(filepath.Join(root, "Users", u), 0o755))
			}
			want := tt.want(root)
			assert.Equal(t, want, rootedSources(context.Background(), slog.New(slog.DiscardHandler), root))
			if runtime.GOOS != "windows" {
				want = nil // Windows stores are default stores on Windows only
			}
			assert.Equal(t, want, New(nil, WithRoot(root)).Defaults(context.Background()))
		})
	}
}

package stores

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRooted(t *testing.T) {
	tests := []struct {
		name, root, p, want string
	}{
		{"no root", "", "/etc/pki/nssdb", "/etc/pki/nssdb"},
		{"absolute", "/mnt/image", "/etc/pki/nssdb", filepath.FromSlash("/mnt/image/etc/pki/nssdb")},
		{"relative root", "img", "/home/alice", filepath.FromSlash("img/home/alice")},
		{"dot dot stays inside", "/mnt/image", "/../etc/passwd", filepath.FromSlash("/mnt/image/etc/passwd")},
		{"dot dot after a doubled slash stays inside", "/mnt/image", "//../../etc/passwd", filepath.FromSlash("/mnt/image/etc/passwd")},
		{"relative p stays inside", "/mnt/image", "../../etc/passwd", filepath.FromSlash("/mnt/image/etc/passwd")},
		{"root is slash", "/", "/Users", filepath.FromSlash("/Users")},
	}
	if runtime.GOOS == "windows" {
		tests = append(tests, []struct{ name, root, p, want string }{
			{"volume dropped", `E:\mnt`, `C:\Users`, `E:\mnt\Users`},
			// filepath.Clean takes `\/..` for the start of a UNC path and
			// keeps the "..": the bug this guards against.
			{"backslash slash dot dot stays inside", `\mnt\image`, `/../etc/passwd`, `\mnt\image\etc\passwd`},
			{"UNC-looking p stays inside", `E:\mnt`, `\/..\..\Windows`, `E:\mnt\Windows`},
			{"UNC p drops its share", `E:\mnt`, `\\server\share\..\..\x`, `E:\mnt\x`},
			{"forward slashes", `E:\mnt`, `C:/Users/alice/../bob`, `E:\mnt\Users\bob`},
		}...)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Rooted(tt.root, tt.p))
		})
	}
}

// FuzzRooted checks that no p, however odd, leads out of the root.
func FuzzRooted(f *testing.F) {
	for _, s := range []string{"/etc/passwd", "/../x", `\/..\..\x`, "//../../x", `C:\..\x`, `\\?\C:\..\x`, "..", ""} {
		f.Add(s)
	}
	root := filepath.FromSlash("/mnt/image")
	f.Fuzz(func(t *testing.T, p string) {
		got := Rooted(root, p)
		rel, err := filepath.Rel(root, got)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			t.Fatalf("Rooted(%q, %q) = %q leaves the root", root, p, got)
		}
	})
}

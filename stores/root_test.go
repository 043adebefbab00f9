package stores

import (
	"path/filepath"
	"runtime"
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
		{"root is slash", "/", "/Users", filepath.FromSlash("/Users")},
	}
	if runtime.GOOS == "windows" {
		tests = append(tests, struct{ name, root, p, want string }{"volume dropped", `E:\mnt`, `C:\Users`, `E:\mnt\Users`})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Rooted(tt.root, tt.p))
		})
	}
}

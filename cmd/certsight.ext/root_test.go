package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRootFlag(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		env     string
		want    string
		wantErr string
	}{
		{"unset", nil, "", "", ""},
		{"flag", []string{"--root", dir}, "", dir, ""},
		{"env", nil, dir, dir, ""},
		{"flag beats env", []string{"--root=" + dir}, filepath.Join(dir, "other"), dir, ""},
		{"relative made absolute", []string{"--root", "."}, "", cwd(t), ""},
		{"missing directory", []string{"--root", filepath.Join(dir, "missing")}, "", "", "not a directory"},
		{"a file", []string{"--root", "root_test.go"}, "", "", "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CERTSIGHT_ROOT", tt.env)
			o, err := parseFlags(tt.args, io.Discard)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, o.root)
		})
	}
}

func cwd(t *testing.T) string {
	wd, err := os.Getwd()
	require.NoError(t, err)
	return wd
}

//go:build !unix

package pemfile

import "os"

func sysID(os.FileInfo) (string, bool) { return "", false }

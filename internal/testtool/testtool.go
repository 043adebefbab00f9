// Package testtool is the end-to-end test support: tests depend on external
// programs without lying about it (outside CI a missing tool skips the test
// with a loud message; with CERTSIGHT_REQUIRE_TOOLS=1, as CI sets it, a
// missing tool fails the test), and find the binaries under test (Binary).
package testtool

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Required reports whether missing tools must fail tests.
func Required() bool { return os.Getenv("CERTSIGHT_REQUIRE_TOOLS") == "1" }

// Need returns the path of program name, or skips (fails under
// CERTSIGHT_REQUIRE_TOOLS=1) when it is not installed.
func Need(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	missing(t, "program "+name+" is not installed (apt-get install it, or see .ci/run)")
	return ""
}

// NeedNSSCertutil returns the path of NSS's certutil, or skips (fails under
// CERTSIGHT_REQUIRE_TOOLS=1) when it is not installed. Windows ships its own
// certutil.exe, which is no NSS tool: the program is recognised by what it
// prints, not by its name.
func NeedNSSCertutil(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("certutil")
	if err == nil {
		out, _ := exec.Command(p).CombinedOutput() // NSS's prints its usage and exits 1
		if bytes.Contains(out, []byte("NSS certificate databases")) {
			return p
		}
		missing(t, "program certutil at "+p+" is not NSS's certutil (Windows' own certutil.exe has the same name)")
		return ""
	}
	missing(t, "program certutil (NSS) is not installed (apt-get install libnss3-tools, or see .ci/run)")
	return ""
}

// RepoRoot returns the repository root (the directory holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testtool: cannot locate source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func missing(t testing.TB, what string) {
	t.Helper()
	if Required() {
		t.Fatalf("REQUIRED BUT MISSING: %s (CERTSIGHT_REQUIRE_TOOLS=1)", what)
	}
	t.Skipf("!!! SKIPPED: %s — this test did not run", what)
}

// BuiltVersion is the version stamped into a binary that Binary builds.
const BuiltVersion = "e2e-test"

// Binary returns the path of the certsight binary name (the program in
// cmd/<name>) for an end-to-end test. When CERTSIGHT_BIN_DIR is set (make
// test sets it to bin/, which make build has just written) it is the binary
// there, and built is false. Otherwise Binary builds it into dir, stamped
// with BuiltVersion, so that `go test ./tests/...` works alone; the caller
// removes dir. It takes no testing.TB so that TestMain can call it.
func Binary(name, dir string) (path string, built bool, err error) {
	exe := name
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	if bin := os.Getenv("CERTSIGHT_BIN_DIR"); bin != "" {
		for _, p := range []string{filepath.Join(bin, name), filepath.Join(bin, exe)} {
			if _, err := os.Stat(p); err == nil {
				return p, false, nil
			}
		}
		return "", false, fmt.Errorf("%s is not in CERTSIGHT_BIN_DIR=%s (run make build)", name, bin)
	}
	path = filepath.Join(dir, exe)
	cmd := exec.Command("go", "build", "-o", path, "-ldflags", "-X main.version="+BuiltVersion,
		"github.com/certsight/certsight/cmd/"+name)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", false, fmt.Errorf("building %s: %w\n%s", name, err, out)
	}
	return path, true, nil
}

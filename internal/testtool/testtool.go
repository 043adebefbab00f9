// Package testtool lets tests depend on external programs and on the shared
// fixtures without lying about it: outside CI a missing tool skips the test
// with a loud message; with CERTSIGHT_REQUIRE_TOOLS=1 (as CI sets it) a
// missing tool fails the test.
package testtool

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Required reports whether missing tools and fixtures must fail tests.
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

// SharedFixture returns the path of rel under ../shared/fixtures beside the
// repository, or skips (fails under CERTSIGHT_REQUIRE_TOOLS=1) when absent.
// CERTSIGHT_SHARED overrides where shared/ is.
func SharedFixture(t testing.TB, rel string) string {
	t.Helper()
	shared := os.Getenv("CERTSIGHT_SHARED")
	if shared == "" {
		shared = filepath.Join(RepoRoot(t), "..", "shared")
	}
	p := filepath.Join(shared, "fixtures", rel)
	if _, err := os.Stat(p); err != nil {
		missing(t, "shared fixture "+p+" is absent")
		return ""
	}
	return p
}

func missing(t testing.TB, what string) {
	t.Helper()
	if Required() {
		t.Fatalf("REQUIRED BUT MISSING: %s (CERTSIGHT_REQUIRE_TOOLS=1)", what)
	}
	t.Skipf("!!! SKIPPED: %s — this test did not run", what)
}

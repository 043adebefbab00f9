//go:build linux

// pkg_test builds the .deb the way `make package` does, installs it
// with dpkg into a throwaway root, checks what osquery demands of an
// extension binary, and runs the fake-osqueryd end-to-end tests against the
// installed path.
package pkg_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testtool"
)

const installedExt = "/usr/lib/certsight/certsight.ext"

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
	return string(out)
}

// buildDeb builds both binaries for this machine's architecture and packs
// them with build/package/package.sh, as `make package` does.
func buildDeb(t *testing.T, root string) string {
	t.Helper()
	tmp := t.TempDir()
	dist := filepath.Join(tmp, "dist")
	bins := filepath.Join(dist, "linux_"+runtime.GOARCH)
	for pkg, name := range map[string]string{"./cmd/certsight.ext": "certsight.ext", "./cmd/certsight-edge": "certsight-edge"} {
		run(t, root, []string{"CGO_ENABLED=0"}, "go", "build", "-trimpath", "-ldflags", "-X main.version=0.0.0-pkgtest",
			"-o", filepath.Join(bins, name), pkg)
	}
	out := filepath.Join(tmp, "out")
	run(t, root, nil, filepath.Join(root, "build/package/package.sh"), "deb", runtime.GOARCH, "0.0.0~pkgtest", dist, out)
	debs, err := filepath.Glob(filepath.Join(out, "*.deb"))
	require.NoError(t, err)
	require.Len(t, debs, 1)
	return debs[0]
}

// newDpkgRoot makes an empty root that dpkg --root accepts.
func newDpkgRoot(t *testing.T) string {
	t.Helper()
	r := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"} {
		require.NoError(t, os.MkdirAll(filepath.Join(r, d), 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(r, "var/lib/dpkg/status"), nil, 0o644))
	// t.TempDir is 0700 under a world-writable /tmp; osquery judges the
	// directories of the binary, which inside this root are the package's.
	return r
}

func dpkg(t *testing.T, root string, args ...string) string {
	t.Helper()
	base := []string{"--root=" + root, "--force-script-chrootless", "--log=/dev/null"}
	return run(t, "", nil, "dpkg", append(base, args...)...)
}

func autoload(t *testing.T, root string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "etc/osquery/extensions.load"))
	require.NoError(t, err)
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// checkRootOwned applies osquery's safePermissions rules to an installed
// binary: root-owned, executable, not world-writable, in directories that
// are root-owned and not world-writable.
func checkRootOwned(t *testing.T, root, path string) {
	t.Helper()
	fi, err := os.Stat(filepath.Join(root, path))
	require.NoError(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	assert.Equal(t, uint32(0), st.Uid, "owned by root")
	assert.Equal(t, uint32(0), st.Gid, "group root")
	assert.Equal(t, os.FileMode(0o755), fi.Mode().Perm(), "mode 0755")
	for dir := filepath.Dir(path); dir != "/"; dir = filepath.Dir(dir) {
		di, err := os.Stat(filepath.Join(root, dir))
		require.NoError(t, err)
		assert.Zero(t, di.Mode().Perm()&0o002, "%s must not be world-writable", dir)
		assert.Equal(t, uint32(0), di.Sys().(*syscall.Stat_t).Uid, "%s owned by root", dir)
	}
}

func TestDebInstallsAnExtensionOsqueryWillLoad(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the .deb is a Linux package")
	}
	testtool.Need(t, "dpkg")
	testtool.Need(t, "dpkg-deb")
	if os.Geteuid() != 0 {
		if testtool.Required() {
			t.Fatal("REQUIRED BUT MISSING: root, to install the .deb with its owners (CERTSIGHT_REQUIRE_TOOLS=1)")
		}
		t.Skip("!!! SKIPPED: installing the .deb with root-owned files needs root — this test did not run")
	}
	repo := testtool.RepoRoot(t)
	deb := buildDeb(t, repo)

	info := run(t, "", nil, "dpkg-deb", "--info", deb)
	assert.Contains(t, info, "Package: certsight")
	contents := run(t, "", nil, "dpkg-deb", "--contents", deb)
	assert.Contains(t, contents, "-rwxr-xr-x root/root")
	assert.Contains(t, contents, "."+installedExt)
	assert.Contains(t, contents, "./lib/systemd/system/certsight-edge.service")

	root := newDpkgRoot(t)
	dpkg(t, root, "-i", deb)
	checkRootOwned(t, root, installedExt)
	assert.True(t, strings.HasSuffix(installedExt, ".ext"), "osquery autoload takes only .ext files")
	checkRootOwned(t, root, "/usr/bin/certsight-edge")
	assert.Equal(t, []string{installedExt}, autoload(t, root), "postinst lists the extension once")

	// Reinstalling must not list it twice.
	dpkg(t, root, "-i", deb)
	assert.Equal(t, []string{installedExt}, autoload(t, root))

	// The osquery-shaped end-to-end tests, against the installed binary.
	binDir := filepath.Join(root, filepath.Dir(installedExt))
	out := run(t, repo, []string{"CERTSIGHT_BIN_DIR=" + binDir}, "go", "test", "-count=1",
		"-run", "^(TestOsqueryDrivesExtension|TestExtensionExitsWhenManagerVanishes|TestPostureMatrixThroughOsquery)$",
		"-v", "./tests/extension")
	for _, name := range []string{"TestOsqueryDrivesExtension", "TestExtensionExitsWhenManagerVanishes", "TestPostureMatrixThroughOsquery"} {
		assert.Contains(t, out, "--- PASS: "+name, "installed extension: %s", name)
	}

	// Removing the package takes it out of the autoload list.
	dpkg(t, root, "-r", "certsight")
	assert.Empty(t, autoload(t, root))
	_, err := os.Stat(filepath.Join(root, installedExt))
	assert.True(t, os.IsNotExist(err), "binary removed")
}

// Package extension_test drives the real bin/certsight.ext end to end: as
// osquery would (a fake extension manager speaking osquery's Thrift API on a
// unix socket) and as a standalone shell.
package extension_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	gen "github.com/osquery/osquery-go/gen/osquery"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testtool"
)

// extBin is the binary under test: $CERTSIGHT_BIN_DIR/certsight.ext, or one
// built by TestMain so that `go test ./tests/extension` works alone.
var extBin string

// builtVersion is the version stamped into a binary TestMain built ("" when
// CERTSIGHT_BIN_DIR names one built elsewhere).
var builtVersion string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "certsight-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	bin, built, err := testtool.Binary("certsight.ext", tmp)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	extBin = bin
	if built {
		builtVersion = testtool.BuiltVersion
	}
	defer func() {
		if bigRoot != "" {
			os.RemoveAll(bigRoot)
		}
	}()
	return m.Run()
}

// shortDir returns a fresh directory with a short path: unix socket paths
// are limited to about 100 bytes, and macOS's $TMPDIR is long.
func shortDir(t testing.TB) string {
	t.Helper()
	base := os.TempDir()
	if runtime.GOOS == "darwin" {
		base = "/tmp"
	}
	d, err := os.MkdirTemp(base, "cs")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// registration is one registerExtension call the manager received.
type registration struct {
	Info     *gen.InternalExtensionInfo
	Registry gen.ExtensionRegistry
	At       time.Time
}

// fakeManager is an osquery extension manager: osquery-go's generated
// ExtensionManager processor on a unix socket, with an accept loop of its
// own so that the test can make it vanish (close every connection) the way a
// dying osqueryd does.
type fakeManager struct {
	sock string
	ln   net.Listener

	registered   chan registration
	deregistered chan gen.ExtensionRouteUUID

	mu    sync.Mutex
	conns []net.Conn
	pings int
	uuid  int64
}

func startManager(t testing.TB, sock string) *fakeManager {
	t.Helper()
	ln, err := listen(sock)
	require.NoError(t, err)
	m := &fakeManager{
		sock: sock, ln: ln, uuid: 42,
		registered:   make(chan registration, 4),
		deregistered: make(chan gen.ExtensionRouteUUID, 4),
	}
	proc := gen.NewExtensionManagerProcessor(m)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			m.mu.Lock()
			m.conns = append(m.conns, c)
			m.mu.Unlock()
			go serveConn(proc, c)
		}
	}()
	t.Cleanup(m.vanish)
	return m
}

func serveConn(proc thrift.TProcessor, c net.Conn) {
	defer c.Close()
	tr := thrift.NewTSocketFromConnConf(c, &thrift.TConfiguration{})
	p := thrift.NewTBinaryProtocolConf(tr, nil)
	for {
		if ok, err := proc.Process(context.Background(), p, p); err != nil || !ok {
			return
		}
	}
}

// vanish closes the socket and every connection, as when osqueryd dies.
func (m *fakeManager) vanish() {
	m.ln.Close()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.conns {
		c.Close()
	}
	m.conns = nil
}

func (m *fakeManager) Ping(context.Context) (*gen.ExtensionStatus, error) {
	m.mu.Lock()
	m.pings++
	m.mu.Unlock()
	return &gen.ExtensionStatus{Code: 0, Message: "OK"}, nil
}

func (m *fakeManager) Call(context.Context, string, string, gen.ExtensionPluginRequest) (*gen.ExtensionResponse, error) {
	return &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: 1, Message: "not implemented by the fake manager"}}, nil
}

func (m *fakeManager) Shutdown(context.Context) error { return nil }

func (m *fakeManager) Extensions(context.Context) (gen.InternalExtensionList, error) {
	return gen.InternalExtensionList{}, nil
}

func (m *fakeManager) Options(context.Context) (gen.InternalOptionList, error) {
	return gen.InternalOptionList{}, nil
}

func (m *fakeManager) RegisterExtension(_ context.Context, info *gen.InternalExtensionInfo, reg gen.ExtensionRegistry) (*gen.ExtensionStatus, error) {
	m.registered <- registration{Info: info, Registry: reg, At: time.Now()}
	return &gen.ExtensionStatus{Code: 0, Message: "OK", UUID: gen.ExtensionRouteUUID(m.uuid)}, nil
}

func (m *fakeManager) DeregisterExtension(_ context.Context, uuid gen.ExtensionRouteUUID) (*gen.ExtensionStatus, error) {
	select {
	case m.deregistered <- uuid:
	default:
	}
	return &gen.ExtensionStatus{Code: 0, Message: "OK"}, nil
}

func (m *fakeManager) Query(context.Context, string) (*gen.ExtensionResponse, error) {
	return &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: 1, Message: "no SQL engine in the fake manager"}}, nil
}

func (m *fakeManager) GetQueryColumns(context.Context, string) (*gen.ExtensionResponse, error) {
	return m.Query(context.Background(), "")
}

func (m *fakeManager) waitRegistered(t testing.TB, within time.Duration) registration {
	t.Helper()
	select {
	case r := <-m.registered:
		return r
	case <-time.After(within):
		t.Fatalf("extension did not register within %v", within)
	}
	return registration{}
}

// extProc is a running certsight.ext.
type extProc struct {
	cmd    *exec.Cmd
	stderr *testtool.SyncBuffer
	done   chan error
}

// startExtension starts certsight.ext with osquery's argv for an autoloaded
// extension: `exe [--verbose] --socket S --timeout N --interval N`, each a
// separate word, and OSQUERY_EXTENSION set to the parent's pid.
func startExtension(t testing.TB, sock string, extra ...string) *extProc {
	t.Helper()
	args := append(extra, "--socket", sock, "--timeout", "3", "--interval", "3")
	cmd := exec.Command(extBin, args...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("OSQUERY_EXTENSION=%d", os.Getpid()))
	p := &extProc{cmd: cmd, stderr: &testtool.SyncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	require.NoError(t, cmd.Start())
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("certsight.ext stderr:\n%s", p.stderr.String())
		}
	})
	return p
}

// waitExit waits for the process to end and returns its exit error.
func (p *extProc) waitExit(t testing.TB, within time.Duration) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // keep it for Cleanup
		return err
	case <-time.After(within):
		t.Fatalf("certsight.ext still running after %v; stderr:\n%s", within, p.stderr.String())
	}
	return errors.New("unreachable")
}

// extensionClient connects to the socket the extension serves on, as osquery
// does after registration: <manager socket>.<uuid>.
func extensionClient(t testing.TB, sock string, uuid int64) *gen.ExtensionClient {
	t.Helper()
	path := fmt.Sprintf("%s.%d", sock, uuid)
	var conn net.Conn
	require.Eventually(t, func() bool {
		c, err := dial(path)
		if err != nil {
			return false
		}
		conn = c
		return true
	}, 5*time.Second, 5*time.Millisecond, "extension socket %s never accepted", path)
	tr := thrift.NewTSocketFromConnConf(conn, &thrift.TConfiguration{SocketTimeout: 30 * time.Second})
	t.Cleanup(func() { tr.Close() })
	return gen.NewExtensionClientFactory(tr, thrift.NewTBinaryProtocolFactoryConf(nil))
}

//go:build linux

package rawconn

// These tests prove that a wrapped connection behaves exactly like the plain
// *net.TCPConn it wraps. Every behaviour runs twice, once on a plain
// loopback pair and once on a pair whose ends went through Wrap, with the
// same assertions, and the two outcomes are compared with each other. The
// expected outcomes are Linux's (Wrap returns its argument elsewhere; see
// rawconn_other_test.go).

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	// waitLimit bounds anything that should happen promptly: a test that
	// reaches it has failed, it never paces a test. It is generous because
	// a loaded machine running -race can take seconds to move 1 MiB.
	waitLimit = 20 * time.Second
	// smallBuffer is the socket buffer size asked for where a test needs a
	// writer to fill the socket quickly (the kernel may double it).
	smallBuffer = 64 << 10
	// maxInFlight bounds the bytes that a loopback connection whose send
	// buffer is smallBuffer holds between a writer and a reader that does
	// not read (about 270 KiB on Linux).
	maxInFlight = 512 << 10
	// nPartial stands for a byte count that the scenario has checked to be
	// more than zero and less than all, where the exact count is the
	// kernel's business.
	nPartial = -1
)

// variant is one way of making the connections under test.
type variant struct {
	name string
	wrap func(net.Conn) net.Conn
}

func plain(c net.Conn) net.Conn { return c }

var variants = []variant{
	{name: "plain", wrap: plain},
	{name: "wrapped", wrap: Wrap},
}

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := leakedGoroutines(); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines started by the tests still run after them:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines returns the stacks of goroutines that run this package's
// code, other than TestMain's, once they had waitLimit to finish.
func leakedGoroutines() string {
	deadline := time.Now().Add(waitLimit)
	for {
		var leaked []string
		for _, g := range goroutineStacks() {
			if strings.Contains(g, "internal/rawconn.") && !strings.Contains(g, "rawconn.TestMain(") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(time.Millisecond) // polling for goroutines to end: no event to wait on
	}
}

func goroutineStacks() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Split(string(buf[:n]), "\n\n")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// waitIOWait returns once a goroutine whose stack holds the function fn of
// this package is parked in the network poller.
func waitIOWait(t testing.TB, fn string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		for _, g := range goroutineStacks() {
			header, _, _ := strings.Cut(g, "\n")
			if strings.Contains(header, "[IO wait") && strings.Contains(g, "internal/rawconn."+fn+"(") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no goroutine in %s waited in the network poller within %v", fn, waitLimit)
		}
		time.Sleep(100 * time.Microsecond) // polling a goroutine's state: no event to wait on
	}
}

// blockedRead and blockedWrite are the functions a test finds with
// waitIOWait: a goroutine calls them to block in Read or Write.
//
//go:noinline
func blockedRead(c net.Conn, p []byte) (int, error) { return c.Read(p) }

//go:noinline
func blockedWrite(c net.Conn, p []byte) (int, error) { return c.Write(p) }

type ioResult struct {
	n   int
	err error
}

// harness owns a test's connections and goroutines: at cleanup it closes
// every connection, then waits for every goroutine to return.
type harness struct {
	t       testing.TB
	network string // of the pairs it makes: "tcp" unless a test sets it
	mu      sync.Mutex
	conns   []io.Closer
	wg      sync.WaitGroup
}

func newHarness(t testing.TB) *harness {
	h := &harness{t: t, network: "tcp"}
	t.Cleanup(h.cleanup)
	return h
}

func (h *harness) cleanup() {
	h.mu.Lock()
	conns := h.conns
	h.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitLimit):
		h.t.Errorf("goroutines still run %v after every connection was closed", waitLimit)
	}
}

func (h *harness) track(c io.Closer) {
	h.mu.Lock()
	h.conns = append(h.conns, c)
	h.mu.Unlock()
}

func (h *harness) spawn(f func()) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		f()
	}()
}

// goIO runs f in a goroutine; the channel gets its result.
func (h *harness) goIO(f func() (int, error)) <-chan ioResult {
	ch := make(chan ioResult, 1)
	h.spawn(func() {
		n, err := f()
		ch <- ioResult{n: n, err: err}
	})
	return ch
}

// tcpPair returns the two ends of a new loopback TCP connection.
func (h *harness) tcpPair() (client, server *net.TCPConn) {
	h.t.Helper()
	addr := "127.0.0.1:0"
	if h.network == "tcp6" {
		addr = "[::1]:0"
	}
	ln, err := net.Listen(h.network, addr)
	require.NoError(h.t, err)
	defer ln.Close()
	type accepted struct {
		c   net.Conn
		err error
	}
	ch := make(chan accepted, 1)
	h.spawn(func() {
		c, err := ln.Accept()
		ch <- accepted{c: c, err: err}
	})
	c, err := net.Dial(h.network, ln.Addr().String())
	require.NoError(h.t, err)
	h.track(c)
	a := await(h.t, ch, "accept")
	require.NoError(h.t, a.err)
	h.track(a.c)
	return c.(*net.TCPConn), a.c.(*net.TCPConn)
}

// pair returns both ends of a loopback TCP connection made by v, each with
// a deadline waitLimit away so that a wrong behaviour fails instead of
// hanging (scenarios about deadlines set their own).
func (h *harness) pair(v variant) (client, server net.Conn) {
	h.t.Helper()
	c, s := h.tcpPair()
	client, server = v.wrap(c), v.wrap(s)
	deadline := time.Now().Add(waitLimit)
	require.NoError(h.t, client.SetDeadline(deadline))
	require.NoError(h.t, server.SetDeadline(deadline))
	return client, server
}

func await[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("%s: no result within %v", what, waitLimit)
	}
	var zero T
	return zero
}

// shrinkSendBuffer makes writes on w block soon when the peer does not
// read. Only the send buffer shrinks: a receive buffer shrunk after the
// handshake is smaller than the window already offered, and the kernel then
// drops segments and waits for retransmission timeouts.
func shrinkSendBuffer(t testing.TB, w net.Conn) {
	t.Helper()
	sb, ok := w.(interface{ SetWriteBuffer(int) error })
	require.True(t, ok, "%T has no SetWriteBuffer", w)
	require.NoError(t, sb.SetWriteBuffer(smallBuffer))
}

func closeWrite(t testing.TB, c net.Conn) {
	t.Helper()
	cw, ok := c.(interface{ CloseWrite() error })
	require.True(t, ok, "%T has no CloseWrite", c)
	require.NoError(t, cw.CloseWrite())
}

// pattern returns n bytes that are not periodic at any small period, so a
// lost, doubled or reordered chunk shows.
func pattern(n int) []byte {
	p := make([]byte, n)
	x := uint32(2463534242)
	for i := range p {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		p[i] = byte(x)
	}
	return p
}

// errShape is what a caller can observe of an error, with the connection's
// addresses taken out of the message so that two connections compare.
type errShape struct {
	Nil           bool
	Chain         string // dynamic types from the outermost error inwards
	Op, Net       string // of the *net.OpError, if any
	SourceIsLocal bool   // the OpError's Source is the conn's LocalAddr
	AddrIsRemote  bool   // the OpError's Addr is the conn's RemoteAddr
	Timeout       bool   // net.Error's Timeout()
	Deadline      bool   // errors.Is(err, os.ErrDeadlineExceeded)
	Closed        bool   // errors.Is(err, net.ErrClosed)
	EOF           bool   // err == io.EOF, unwrapped as io.Reader requires
	Errno         syscall.Errno
	Msg           string
}

func shapeOf(c net.Conn, err error) errShape {
	if err == nil {
		return errShape{Nil: true}
	}
	var chain []string
	for e := err; e != nil; e = errors.Unwrap(e) {
		chain = append(chain, fmt.Sprintf("%T", e))
	}
	s := errShape{
		Chain:    strings.Join(chain, " > "),
		Deadline: errors.Is(err, os.ErrDeadlineExceeded),
		Closed:   errors.Is(err, net.ErrClosed),
		EOF:      err == io.EOF,
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		s.Op, s.Net = oe.Op, oe.Net
		s.SourceIsLocal = oe.Source != nil && oe.Source.String() == c.LocalAddr().String()
		s.AddrIsRemote = oe.Addr != nil && oe.Addr.String() == c.RemoteAddr().String()
	}
	var ne net.Error
	s.Timeout = errors.As(err, &ne) && ne.Timeout()
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s.Errno = errno
	}
	s.Msg = strings.ReplaceAll(err.Error(), c.LocalAddr().String()+"->"+c.RemoteAddr().String(), "LOCAL->REMOTE")
	return s
}

var (
	noErr  = errShape{Nil: true}
	eofErr = errShape{Chain: "*errors.errorString", EOF: true, Msg: "EOF"}
)

func opShape(op, inner string) errShape {
	return errShape{Chain: "*net.OpError > " + inner, Op: op, Net: "tcp", SourceIsLocal: true, AddrIsRemote: true}
}

func timeoutErr(op string) errShape {
	s := opShape(op, "*poll.DeadlineExceededError")
	s.Timeout, s.Deadline = true, true
	s.Msg = op + " tcp LOCAL->REMOTE: i/o timeout"
	return s
}

func closedErr(op string) errShape {
	s := opShape(op, "poll.errNetClosing")
	s.Closed = true
	s.Msg = op + " tcp LOCAL->REMOTE: use of closed network connection"
	return s
}

func errnoErr(op string, errno syscall.Errno) errShape {
	s := opShape(op, "*os.SyscallError > syscall.Errno")
	s.Errno = errno
	s.Msg = op + " tcp LOCAL->REMOTE: " + op + ": " + errno.Error()
	return s
}

// obs is one observed call and its result.
type obs struct {
	Call string
	N    int
	Data string
	Err  errShape
}

func doRead(c net.Conn, size int) obs {
	buf := make([]byte, size)
	n, err := c.Read(buf)
	return obs{Call: "Read", N: n, Data: string(buf[:n]), Err: shapeOf(c, err)}
}

func doWrite(c net.Conn, s string) obs {
	n, err := c.Write([]byte(s))
	return obs{Call: "Write", N: n, Err: shapeOf(c, err)}
}

func readObs(n int, data string) obs { return obs{Call: "Read", N: n, Data: data, Err: noErr} }

// partial checks that a blocked write of total bytes moved some but not
// all of them, and returns nPartial for the outcome.
func partial(t testing.TB, n, total int) int {
	t.Helper()
	assert.Greater(t, n, 0, "a blocked write must report the bytes it moved")
	assert.Less(t, n, total, "the write must not have finished")
	return nPartial
}

// scenario is one behaviour, run on each variant.
type scenario struct {
	name string
	run  func(t *testing.T, h *harness, v variant) []obs
	want []obs
}

// runScenarios runs each scenario on a plain and on a wrapped pair, checks
// both against the expected outcome, and the two against each other.
func runScenarios(t *testing.T, scenarios []scenario) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			got := map[string][]obs{}
			for _, v := range variants {
				t.Run(v.name, func(t *testing.T) {
					o := sc.run(t, newHarness(t), v)
					assert.Equal(t, sc.want, o, "%s conn", v.name)
					got[v.name] = o
				})
			}
			if p, w := got["plain"], got["wrapped"]; p != nil && w != nil {
				assert.Equal(t, p, w, "the wrapped conn must behave as the plain one")
			}
		})
	}
}

func TestWrapLeavesOtherConnsUnchanged(t *testing.T) {
	h := newHarness(t)
	p1, p2 := net.Pipe()
	h.track(p1)
	h.track(p2)
	tlsClient := tls.Client(p1, &tls.Config{ServerName: "example.test"})
	tlsServer := tls.Server(p2, &tls.Config{})
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	h.track(udp)
	tcp, _ := h.tcpPair()
	type embedsTCP struct{ *net.TCPConn }

	cases := []struct {
		name string
		c    net.Conn
	}{
		{"net.Pipe end", p1},
		{"*tls.Conn client", tlsClient},
		{"*tls.Conn server", tlsServer},
		{"*net.UDPConn", udp},
		{"struct embedding *net.TCPConn", embedsTCP{tcp}},
		{"nil", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Wrap(tc.c)
			assert.True(t, got == tc.c, "Wrap(%T) returned %T, want its argument", tc.c, got)
		})
	}
}

func TestWrapTCP(t *testing.T) {
	h := newHarness(t)
	client, server := h.tcpPair()
	for _, c := range []*net.TCPConn{client, server} {
		w := Wrap(c)
		if runtime.GOOS == "linux" {
			assert.Equal(t, "*rawconn.Conn", fmt.Sprintf("%T", w))
		} else {
			assert.True(t, w == net.Conn(c), "Wrap must return a TCP conn unchanged on %s", runtime.GOOS)
		}
		assert.True(t, Wrap(w) == w, "Wrap of a wrapped conn must return it unchanged")
		assert.Equal(t, c.LocalAddr(), w.LocalAddr())
		assert.Equal(t, c.RemoteAddr(), w.RemoteAddr())
		// The methods a TCPConn has beyond net.Conn stay reachable.
		_, ok := w.(interface {
			CloseRead() error
			CloseWrite() error
			SetNoDelay(bool) error
			SetLinger(int) error
			SyscallConn() (syscall.RawConn, error)
		})
		assert.True(t, ok, "%T lost *net.TCPConn's methods", w)
	}
}

func TestRoundTrip(t *testing.T) {
	sizes := []struct {
		name string
		n    int
	}{
		{"0 B", 0},
		{"1 B", 1},
		{"4 KiB", 4 << 10},
		{"1 MiB", 1 << 20},
	}
	for _, size := range sizes {
		for _, dir := range []string{"client to server", "server to client"} {
			for _, v := range variants {
				t.Run(size.name+"/"+dir+"/"+v.name, func(t *testing.T) {
					h := newHarness(t)
					w, r := h.pair(v)
					if dir == "server to client" {
						w, r = r, w
					}
					p := pattern(size.n)
					wrote := h.goIO(func() (int, error) {
						n, err := w.Write(p)
						if err != nil {
							return n, err
						}
						m, err := w.Write([]byte("!"))
						if err != nil {
							return n + m, err
						}
						cw := w.(interface{ CloseWrite() error })
						return n + m, cw.CloseWrite()
					})

					n, err := r.Read(nil)
					assert.Equal(t, 0, n, "a zero-length Read reads nothing")
					assert.NoError(t, err)
					got, err := io.ReadAll(r)
					require.NoError(t, err, "ReadAll stops at io.EOF without error")
					want := append(p, '!')
					assertSameBytes(t, want, got)

					res := await(t, wrote, "write")
					assert.NoError(t, res.err)
					assert.Equal(t, size.n+1, res.n)
				})
			}
		}
	}
}

// assertSameBytes is assert.Equal for long byte slices: it reports where
// they part instead of dumping them.
func assertSameBytes(t testing.TB, want, got []byte) {
	t.Helper()
	if !bytes.Equal(want, got) {
		t.Errorf("got %d bytes, want %d; they differ from byte %d on", len(got), len(want), commonPrefix(want, got))
	}
}

func commonPrefix(a, b []byte) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

func TestShortRead(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			h := newHarness(t)
			client, server := h.pair(v)
			require.Equal(t, readObs(0, ""), doRead(client, 0))
			require.Equal(t, obs{Call: "Write", N: 10, Err: noErr}, doWrite(server, "0123456789"))
			assert.Equal(t, readObs(10, "0123456789"), doRead(client, 4096), "Read returns what has arrived")
			require.Equal(t, obs{Call: "Write", N: 10, Err: noErr}, doWrite(server, "abcdefghij"))
			assert.Equal(t, readObs(4, "abcd"), doRead(client, 4), "Read fills a small buffer")
			assert.Equal(t, readObs(6, "efghij"), doRead(client, 4096), "and leaves the rest for the next Read")
		})
	}
}

func TestWriteBackpressure(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			h := newHarness(t)
			client, server := h.pair(v)
			shrinkSendBuffer(t, client)
			p := pattern(1 << 20)

			var consumed, consumedWhenDone atomic.Int64
			wrote := h.goIO(func() (int, error) {
				n, err := blockedWrite(client, p)
				consumedWhenDone.Store(consumed.Load())
				return n, err
			})
			waitIOWait(t, "blockedWrite")
			select {
			case r := <-wrote:
				t.Fatalf("the 1 MiB write returned (%d, %v) before the peer read anything", r.n, r.err)
			default:
			}

			// A slow reader: 1 KiB at a time.
			got := make([]byte, 0, len(p))
			buf := make([]byte, 1<<10)
			for len(got) < len(p) {
				n, err := server.Read(buf)
				got = append(got, buf[:n]...)
				consumed.Add(int64(n))
				require.NoError(t, err)
			}
			r := await(t, wrote, "1 MiB write")
			t.Logf("the write returned when the reader had taken %d of %d bytes", consumedWhenDone.Load(), len(p))
			assert.NoError(t, r.err)
			assert.Equal(t, len(p), r.n)
			assertSameBytes(t, p, got)
			assert.GreaterOrEqual(t, consumedWhenDone.Load(), int64(len(p)-maxInFlight-len(buf)),
				"the write may end only once the reader has taken all but what the socket buffers hold")
		})
	}
}

func TestConcurrentReadWrite(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			h := newHarness(t)
			client, server := h.pair(v)
			// The server echoes with Read and Write on its own (wrapped) end.
			echoed := h.goIO(func() (int, error) {
				total := 0
				buf := make([]byte, 8<<10)
				for {
					n, err := server.Read(buf)
					if err == io.EOF {
						return total, server.(interface{ CloseWrite() error }).CloseWrite()
					}
					if err != nil {
						return total, err
					}
					m, err := server.Write(buf[:n])
					total += m
					if err != nil {
						return total, err
					}
				}
			})

			// One goroutine writes on the client while this one reads it.
			p := pattern(1 << 20)
			wrote := h.goIO(func() (int, error) {
				total := 0
				for chunk := range slices.Chunk(p, 3000) {
					n, err := client.Write(chunk)
					total += n
					if err != nil {
						return total, err
					}
				}
				return total, client.(interface{ CloseWrite() error }).CloseWrite()
			})
			got, err := io.ReadAll(client)
			require.NoError(t, err)
			assertSameBytes(t, p, got)
			for what, ch := range map[string]<-chan ioResult{"writer": wrote, "echo": echoed} {
				r := await(t, ch, what)
				assert.NoError(t, r.err, what)
				assert.Equal(t, len(p), r.n, what)
			}
		})
	}
}

// TestConcurrentWritesAreAtomic checks net's promise that concurrent
// Writes on one conn do not interleave, with writes larger than the socket
// buffers so that each one blocks part way.
func TestConcurrentWritesAreAtomic(t *testing.T) {
	const writers, perWriter, size = 4, 16, 64 << 10
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			h := newHarness(t)
			client, server := h.pair(v)
			shrinkSendBuffer(t, client)
			results := make([]<-chan ioResult, writers)
			for w := range writers {
				msg := bytes.Repeat([]byte{byte('a' + w)}, size)
				results[w] = h.goIO(func() (int, error) {
					total := 0
					for range perWriter {
						n, err := client.Write(msg)
						total += n
						if err != nil {
							return total, err
						}
					}
					return total, nil
				})
			}
			counts := map[byte]int{}
			buf := make([]byte, size)
			for range writers * perWriter {
				_, err := io.ReadFull(server, buf)
				require.NoError(t, err)
				require.Equal(t, bytes.Repeat(buf[:1], size), buf, "a message is interleaved with another")
				counts[buf[0]]++
			}
			for w := range writers {
				r := await(t, results[w], "writer")
				assert.NoError(t, r.err)
				assert.Equal(t, perWriter*size, r.n)
				assert.Equal(t, perWriter, counts[byte('a'+w)])
			}
		})
	}
}

// onlyReader and onlyWriter hide io.WriterTo and io.ReaderFrom so that
// io.Copy takes its generic path through Read and Write.
type onlyReader struct{ io.Reader }
type onlyWriter struct{ io.Writer }

// TestIOCopy moves data with io.Copy in both directions. A wrapped conn
// keeps *net.TCPConn's ReadFrom and WriteTo, so io.Copy as callers write it
// takes those; the cases with onlyReader and onlyWriter force io.Copy
// through the conn's own Read and Write.
func TestIOCopy(t *testing.T) {
	p := pattern(256<<10 + 17)
	// copyFunc moves all of p over one or two connection pairs and returns
	// what arrived and the copy's results.
	type copyFunc func(t *testing.T, h *harness, v variant) (got []byte, n int64, err error)

	// into copies p into a conn with do(conn, reader) and reads it at the peer.
	into := func(do func(dst net.Conn, src io.Reader) (int64, error)) copyFunc {
		return func(t *testing.T, h *harness, v variant) ([]byte, int64, error) {
			client, server := h.pair(v)
			read := readAllAsync(h, server)
			n, err := do(client, bytes.NewReader(p))
			closeWrite(t, client)
			return awaitBytes(t, read), n, err
		}
	}
	// outOf writes p at the peer and copies it out of a conn with do(writer, conn).
	outOf := func(do func(dst io.Writer, src net.Conn) (int64, error)) copyFunc {
		return func(t *testing.T, h *harness, v variant) ([]byte, int64, error) {
			client, server := h.pair(v)
			writeAllAsync(t, h, client, p)
			var got bytes.Buffer
			n, err := do(&got, server)
			return got.Bytes(), n, err
		}
	}
	// proxy copies p from one pair to another with do(out, in).
	proxy := func(do func(dst, src net.Conn) (int64, error)) copyFunc {
		return func(t *testing.T, h *harness, v variant) ([]byte, int64, error) {
			inClient, inServer := h.pair(v)
			outClient, outServer := h.pair(v)
			writeAllAsync(t, h, inClient, p)
			read := readAllAsync(h, outServer)
			n, err := do(outClient, inServer)
			closeWrite(t, outClient)
			return awaitBytes(t, read), n, err
		}
	}

	cases := []struct {
		name string
		copy copyFunc
	}{
		{"io.Copy(conn, reader)", into(func(dst net.Conn, src io.Reader) (int64, error) {
			return io.Copy(dst, onlyReader{src})
		})},
		{"io.Copy(conn, reader) through conn.Write", into(func(dst net.Conn, src io.Reader) (int64, error) {
			return io.Copy(onlyWriter{dst}, onlyReader{src})
		})},
		{"bytes.Reader.WriteTo(conn)", into(func(dst net.Conn, src io.Reader) (int64, error) {
			return src.(*bytes.Reader).WriteTo(dst)
		})},
		{"io.Copy(writer, conn)", outOf(func(dst io.Writer, src net.Conn) (int64, error) {
			return io.Copy(dst, src)
		})},
		{"io.Copy(writer, conn) through conn.Read", outOf(func(dst io.Writer, src net.Conn) (int64, error) {
			return io.Copy(onlyWriter{dst}, onlyReader{src})
		})},
		{"bytes.Buffer.ReadFrom(conn)", outOf(func(dst io.Writer, src net.Conn) (int64, error) {
			return dst.(*bytes.Buffer).ReadFrom(src)
		})},
		{"io.Copy(conn, conn)", proxy(func(dst, src net.Conn) (int64, error) {
			return io.Copy(dst, src)
		})},
		{"io.Copy(conn, conn) through Read and Write", proxy(func(dst, src net.Conn) (int64, error) {
			return io.Copy(onlyWriter{dst}, onlyReader{src})
		})},
	}
	for _, tc := range cases {
		for _, v := range variants {
			t.Run(tc.name+"/"+v.name, func(t *testing.T) {
				got, n, err := tc.copy(t, newHarness(t), v)
				assert.NoError(t, err)
				assert.Equal(t, int64(len(p)), n)
				assertSameBytes(t, p, got)
			})
		}
	}
}

type bytesResult struct {
	b   []byte
	err error
}

func readAllAsync(h *harness, c net.Conn) <-chan bytesResult {
	ch := make(chan bytesResult, 1)
	h.spawn(func() {
		b, err := io.ReadAll(c)
		ch <- bytesResult{b: b, err: err}
	})
	return ch
}

func awaitBytes(t *testing.T, ch <-chan bytesResult) []byte {
	t.Helper()
	r := await(t, ch, "read all")
	require.NoError(t, r.err)
	return r.b
}

// writeAllAsync writes p on c, then closes c for writing; the test fails
// if that does not succeed.
func writeAllAsync(t *testing.T, h *harness, c net.Conn, p []byte) {
	res := h.goIO(func() (int, error) {
		n, err := c.Write(p)
		if err != nil {
			return n, err
		}
		return n, c.(interface{ CloseWrite() error }).CloseWrite()
	})
	t.Cleanup(func() {
		r := await(t, res, "write all")
		assert.NoError(t, r.err)
		assert.Equal(t, len(p), r.n)
	})
}

func TestEndOfStream(t *testing.T) {
	runScenarios(t, []scenario{
		{
			name: "peer Close: Read returns 0, io.EOF, and again",
			run: func(t *testing.T, h *harness, v variant) []obs {
				client, server := h.pair(v)
				require.NoError(t, server.Close())
				return []obs{doRead(client, 4096), doRead(client, 4096)}
			},
			want: []obs{{Call: "Read", Err: eofErr}, {Call: "Read", Err: eofErr}},
		},
		{
			name: "peer CloseWrite: pending data first, then io.EOF",
			run: func(t *testing.T, h *harness, v variant) []obs {
				client, server := h.pair(v)
				w := doWrite(server, "hello")
				closeWrite(t, server)
				return []obs{w, doRead(client, 4096), doRead(client, 4096), doWrite(client, "still open")}
			},
			want: []obs{
				{Call: "Write", N: 5, Err: noErr},
				readObs(5, "hello"),
				{Call: "Read", Err: eofErr},
				{Call: "Write", N: 10, Err: noErr},
			},
		},
	})
}

func TestZeroLength(t *testing.T) {
	past := time.Now().Add(-time.Hour)
	runScenarios(t, []scenario{
		{
			name: "Read with nothing pending returns at once",
			run: func(t *testing.T, h *harness, v variant) []obs {
				client, _ := h.pair(v)
				return []obs{doRead(client, 0)}
			},
			want: []obs{readObs(0, "")},
		},
		{
			name: "Read leaves pending data",
			run: func(t *testing.T, h *harness, v variant) []obs {
				client, server := h.pair(v)
				w := doWrite(server, "x")
				return []obs{w, doRead(client, 1), doWrite(server, "y"), doRead(client, 0), doRead(client, 1)}
			},
			want: []obs{
				{Call: "Write", N: 1, Err: noErr}, readObs(1, "x"),
				{Call: "Write", N: 1, Err: noErr}, readObs(0, ""), readObs(1, "y"),
			},
		},
		{
			name: "Read after peer Close is not io.EOF",
			run: func(t *testing.T, h *harness, v variant) []obs {
				client, server := h.pair(v)
				require.NoError(t, server.Close())
				return []obs{doRead(client, 0)}
			},
			want: []obs{readObs(0, "")},
		},
		{
			name: "Read ignores a past read deadline",
			run: func(t *testing.T, h *harness, v variant) []obs {
				client, _ := h.pair(v)
				require.NoError(t, client.SetReadDeadline(past))
				return []obs{doRead(client, 0)}
			},
			want: []obs{readObs(0, "")},
		},
		{
			name: "Write sends nothing",
			run: func(t *testing.T, h *harness, v variant) []obs {
				client, server := h.pair(v)
				return []obs{doWrite(client, ""), doWrite(client, "a"), doRead(server, 16)}
			},
			want: []obs{{Call: "Write", Err: noErr}, {Call: "Write", N: 1, Err: noErr}, readObs(1, "a")},
		},
		{
			name: "Write fails on a past write deadline",
			run: func(t *testing.T, h *harness, v variant) []obs {
				client, _ := h.pair(v)
				require.NoError(t, client.SetWriteDeadline(past))
				return []obs{doWrite(client, "")}
			},
			want: []obs{{Call: "Write", Err: timeoutErr("write")}},
		},
	})
}

func TestReadDeadline(t *testing.T) {
	// afterTimeout clears the deadline and shows that reads proceed.
	afterTimeout := func(t *testing.T, client, server net.Conn) []obs {
		require.NoError(t, client.SetReadDeadline(time.Time{}))
		return []obs{doWrite(server, "late"), doRead(client, 4096)}
	}
	proceeds := []obs{{Call: "Write", N: 4, Err: noErr}, readObs(4, "late")}

	runScenarios(t, []scenario{
		{
			name: "in the past",
			run: func(t *testing.T, h *harness, v variant) []obs {
				client, server := h.pair(v)
				require.NoError(t, client.SetReadDeadline(time.Now().Add(-time.Second)))
				o := []obs{doRead(client, 4096), doRead(client, 4096)}
				return append(o, afterTimeout(t, client, server)...)
			},
			want: append([]obs{{Call: "Read", Err: timeoutErr("read")}, {Call: "Read", Err: timeoutErr("read")}}, proceeds...),
		},
		{
			name: "in the past, with data pending",
			run: func(t *testing.T, h *harness, v variant) []obs {
				client, server := h.pair(v)
				o := []obs{doWrite(server, "early"), doRead(client, 1)}
				require.NoError(t, client.SetReadDeadline(time.Now().Add(-time.Second)))
				o = append(o, doRead(client, 4096))
				require.NoError(t, client.SetReadDeadline(time.Time{}))
				return append(o, doRead(client, 4096))
			},
			want: []obs{
				{Call: "Write", N: 5, Err: noErr}, readObs(1, "e"),
				{Call: "Read", Err: timeoutErr("read")},
				readObs(4, "arly"),
			},
		},
		{
			name: "in the near future",
			run: func(t *testing.T, h *harness, v variant) []obs {
				client, server := h.pair(v)
				start := time.Now()
				require.NoError(t, client.SetReadDeadline(start.Add(50*time.Millisecond)))
				o := []obs{doRead(client, 4096)}
				assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond, "Read returned before its deadline")
				return append(o, afterTimeout(t, client, server)...)
			},
			want: append([]obs{{Call: "Read", Err: timeoutErr("read")}}, proceeds...),
		},
		{
			name: "moved into the past while Read waits",
			run: func(t *testing.T, h *harness, v variant) []obs {
				client, server := h.pair(v)
				buf := make([]byte, 4096)
				res := h.goIO(func() (int, error) { return blockedRead(client, buf) })
				waitIOWait(t, "blockedRead")
				require.NoError(t, client.SetReadDeadline(time.Now().Add(-time.Second)))
				r := await(t, res, "blocked Read")
				o := []obs{{Call: "Read", N: r.n, Err: shapeOf(client, r.err)}}
				return append(o, afterTimeout(t, client, server)...)
			},
			want: append([]obs{{Call: "Read", Err: timeoutErr("read")}}, proceeds...),
		},
		{
			name: "extended while Read waits",
			run: func(t *testing.T, h *harness, v variant) []obs {
				client, server := h.pair(v)
				require.NoError(t, client.SetReadDeadline(time.Now().Add(time.Hour)))
				buf := make([]byte, 4096)
				res := h.goIO(func() (int, error) { return blockedRead(client, buf) })
				waitIOWait(t, "blockedRead")
				require.NoError(t, client.SetReadDeadline(time.Time{}))
				w := doWrite(server, "ok")
				r := await(t, res, "blocked Read")
				return []obs{w, {Call: "Read", N: r.n, Data: string(buf[:r.n]), Err: shapeOf(client, r.err)}}
			},
			want: []obs{{Call: "Write", N: 2, Err: noErr}, readObs(2, "ok")},
		},
	})
}

func TestWriteDeadline(t *testing.T) {
	runScenarios(t, []scenario{
		{
			name: "in the past",
			run: func(t *testing.T, h *harness, v variant) []obs {
				client, server := h.pair(v)
				require.NoError(t, client.SetWriteDeadline(time.Now().Add(-time.Second)))
				o := []obs{doWrite(client, "x"), doWrite(client, "x")}
				require.NoError(t, client.SetWriteDeadline(time.Time{}))
				return append(o, doWrite(client, "y"), doRead(server, 4096))
			},
			want: []obs{
				{Call: "Write", Err: timeoutErr("write")},
				{Call: "Write", Err: timeoutErr("write")},
				{Call: "Write", N: 1, Err: noErr},
				readObs(1, "y"),
			},
		},
		{
			name: "in the near future, peer not reading",
			run: func(t *testing.T, h *harness, v variant) []obs {
				client, server := h.pair(v)
				shrinkSendBuffer(t, client)
				p := pattern(1 << 20)
				start := time.Now()
				require.NoError(t, client.SetWriteDeadline(start.Add(100*time.Millisecond)))
				n, err := client.Write(p)
				assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond, "Write returned before its deadline")
				return append([]obs{{Call: "Write", N: partial(t, n, len(p)), Err: shapeOf(client, err)}},
					finishWrite(t, h, client, server, p, n)...)
			},
			want: []obs{{Call: "Write", N: nPartial, Err: timeoutErr("write")}, finished},
		},
		{
			name: "moved into the past while Write waits",
			run: func(t *testing.T, h *harness, v variant) []obs {
				client, server := h.pair(v)
				shrinkSendBuffer(t, client)
				p := pattern(1 << 20)
				res := h.goIO(func() (int, error) { return blockedWrite(client, p) })
				waitIOWait(t, "blockedWrite")
				require.NoError(t, client.SetWriteDeadline(time.Now().Add(-time.Second)))
				r := await(t, res, "blocked Write")
				return append([]obs{{Call: "Write", N: partial(t, r.n, len(p)), Err: shapeOf(client, r.err)}},
					finishWrite(t, h, client, server, p, r.n)...)
			},
			want: []obs{{Call: "Write", N: nPartial, Err: timeoutErr("write")}, finished},
		},
	})
}

var finished = obs{Call: "Write the rest, peer reads all", N: 1 << 20, Data: "intact", Err: noErr}

// finishWrite clears the write deadline of w, writes p[n:] while r reads,
// and reports whether r got p whole.
func finishWrite(t *testing.T, h *harness, w, r net.Conn, p []byte, n int) []obs {
	t.Helper()
	require.NoError(t, w.SetWriteDeadline(time.Time{}))
	read := h.goIO(func() (int, error) {
		got := make([]byte, len(p))
		m, err := io.ReadFull(r, got)
		if err == nil && !bytes.Equal(p, got) {
			err = fmt.Errorf("data differs from byte %d", commonPrefix(p, got))
		}
		return m, err
	})
	m, err := w.Write(p[n:])
	require.NoError(t, err)
	require.Equal(t, len(p), n+m)
	res := await(t, read, "read all")
	o := obs{Call: "Write the rest, peer reads all", N: res.n, Data: "intact", Err: shapeOf(r, res.err)}
	if res.err != nil {
		o.Data = "broken"
	}
	return []obs{o}
}

func TestClose(t *testing.T) {
	runScenarios(t, []scenario{
		{
			name: "Read after Close",
			run: func(t *testing.T, h *harness, v variant) []obs {
				client, server := h.pair(v)
				w := doWrite(server, "pending")
				require.NoError(t, client.Close())
				return []obs{w, doRead(client, 4096), doRead(client, 4096)}
			},
			want: []obs{{Call: "Write", N: 7, Err: noErr}, {Call: "Read", Err: closedErr("read")}, {Call: "Read", Err: closedErr("read")}},
		},
		{
			name: "Write after Close",
			run: func(t *testing.T, h *harness, v variant) []obs {
				client, _ := h.pair(v)
				require.NoError(t, client.Close())
				return []obs{doWrite(client, "x")}
			},
			want: []obs{{Call: "Write", Err: closedErr("write")}},
		},
		{
			name: "zero-length Read after Close",
			run: func(t *testing.T, h *harness, v variant) []obs {
				client, _ := h.pair(v)
				require.NoError(t, client.Close())
				return []obs{doRead(client, 0)}
			},
			want: []obs{{Call: "Read", Err: closedErr("read")}},
		},
		{
			name: "zero-length Write after Close",
			run: func(t *testing.T, h *harness, v variant) []obs {
				client, _ := h.pair(v)
				require.NoError(t, client.Close())
				return []obs{doWrite(client, "")}
			},
			want: []obs{{Call: "Write", Err: closedErr("write")}},
		},
		{
			name: "Wrap after Close",
			run: func(t *testing.T, h *harness, v variant) []obs {
				c, _ := h.tcpPair()
				require.NoError(t, c.Close())
				w := v.wrap(c)
				return []obs{doRead(w, 1), doWrite(w, "x"), {Call: "Close", Err: shapeOf(w, w.Close())}}
			},
			want: []obs{{Call: "Read", Err: closedErr("read")}, {Call: "Write", Err: closedErr("write")}, {Call: "Close", Err: closedErr("close")}},
		},
		{
			name: "Close twice",
			run: func(t *testing.T, h *harness, v variant) []obs {
				client, _ := h.pair(v)
				first := client.Close()
				second := client.Close()
				return []obs{{Call: "Close", Err: shapeOf(client, first)}, {Call: "Close", Err: shapeOf(client, second)}}
			},
			want: []obs{{Call: "Close", Err: noErr}, {Call: "Close", Err: closedErr("close")}},
		},
		{
			name: "Close unblocks a waiting Read",
			run: func(t *testing.T, h *harness, v variant) []obs {
				client, _ := h.pair(v)
				res := h.goIO(func() (int, error) { return blockedRead(client, make([]byte, 4096)) })
				waitIOWait(t, "blockedRead")
				require.NoError(t, client.Close())
				r := await(t, res, "blocked Read")
				return []obs{{Call: "Read", N: r.n, Err: shapeOf(client, r.err)}}
			},
			want: []obs{{Call: "Read", Err: closedErr("read")}},
		},
		{
			name: "Close unblocks a waiting Write",
			run: func(t *testing.T, h *harness, v variant) []obs {
				client, _ := h.pair(v)
				shrinkSendBuffer(t, client)
				p := pattern(1 << 20)
				res := h.goIO(func() (int, error) { return blockedWrite(client, p) })
				waitIOWait(t, "blockedWrite")
				require.NoError(t, client.Close())
				r := await(t, res, "blocked Write")
				return []obs{{Call: "Write", N: partial(t, r.n, len(p)), Err: shapeOf(client, r.err)}}
			},
			want: []obs{{Call: "Write", N: nPartial, Err: closedErr("write")}},
		},
	})
}

//go:build linux

package rawconn

import (
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWrapReturnsConn(t *testing.T) {
	h := newHarness(t)
	client, server := h.tcpPair()
	for _, c := range []*net.TCPConn{client, server} {
		w := Wrap(c)
		wc, ok := w.(*Conn)
		require.True(t, ok, "Wrap(*net.TCPConn) returned %T, want *Conn", w)
		assert.Same(t, c, wc.TCPConn, "the *Conn must wrap the conn it was given")
		assert.NotNil(t, wc.raw)
		assert.Same(t, wc, Wrap(wc), "Wrap of a *Conn must return it unchanged")
	}
}

// resetPeer ends the connection from peer's side with a reset (RST)
// instead of a FIN.
func resetPeer(t *testing.T, peer net.Conn) {
	t.Helper()
	sl, ok := peer.(interface{ SetLinger(int) error })
	require.True(t, ok, "%T has no SetLinger", peer)
	require.NoError(t, sl.SetLinger(0))
	require.NoError(t, peer.Close())
}

// withNet gives the shape of an error on a connection of network n.
func withNet(s errShape, n string) errShape {
	s.Msg = strings.Replace(s.Msg, " tcp ", " "+n+" ", 1)
	s.Net = n
	return s
}

// TestSocketErrors covers the errors that come from the socket itself
// (errno), on each TCP network, since net names the network in them.
func TestSocketErrors(t *testing.T) {
	networks := []string{"tcp", "tcp4"}
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		ln.Close()
		networks = append(networks, "tcp6")
	} else {
		t.Logf("no IPv6 loopback, tcp6 not covered: %v", err)
	}

	for _, network := range networks {
		pairOn := func(h *harness, v variant) (net.Conn, net.Conn) {
			h.network = network
			return h.pair(v)
		}
		t.Run(network, func(t *testing.T) {
			runScenarios(t, []scenario{
				{
					name: "Read after peer reset, then Write",
					run: func(t *testing.T, h *harness, v variant) []obs {
						client, server := pairOn(h, v)
						resetPeer(t, server)
						// Read waits for the reset, so the Write after it finds
						// the connection gone.
						return []obs{doRead(client, 4096), doRead(client, 4096), doWrite(client, "x")}
					},
					want: []obs{
						{Call: "Read", Err: withNet(errnoErr("read", syscall.ECONNRESET), network)},
						{Call: "Read", Err: eofErr},
						{Call: "Write", Err: withNet(errnoErr("write", syscall.EPIPE), network)},
					},
				},
				{
					name: "Write after peer reset",
					run: func(t *testing.T, h *harness, v variant) []obs {
						client, server := pairOn(h, v)
						resetPeer(t, server)
						// Until the reset arrives a Write may still succeed.
						msg := make([]byte, 1<<10)
						for {
							_, err := client.Write(msg)
							if err == nil {
								continue
							}
							var oe *net.OpError
							require.ErrorAs(t, err, &oe)
							assert.Equal(t, "write", oe.Op)
							assert.True(t, errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET),
								"want EPIPE or ECONNRESET, got %v", err)
							// Which of the two depends on when the reset came.
							s := shapeOf(client, err)
							s.Msg = strings.TrimSuffix(s.Msg, s.Errno.Error()) + "EPIPE or ECONNRESET"
							s.Errno = 0
							return []obs{{Call: "Write until error", Err: s}}
						}
					},
					want: []obs{{Call: "Write until error", Err: withNet(errShape{
						Chain: "*net.OpError > *os.SyscallError > syscall.Errno", Op: "write", Net: "tcp",
						SourceIsLocal: true, AddrIsRemote: true,
						Msg: "write tcp LOCAL->REMOTE: write: EPIPE or ECONNRESET",
					}, network)}},
				},
				{
					name: "Write after own CloseWrite",
					run: func(t *testing.T, h *harness, v variant) []obs {
						client, server := pairOn(h, v)
						closeWrite(t, client)
						return []obs{doWrite(client, "x"), doRead(server, 16), doWrite(server, "y"), doRead(client, 16)}
					},
					want: []obs{
						{Call: "Write", Err: withNet(errnoErr("write", syscall.EPIPE), network)},
						{Call: "Read", Err: eofErr},
						{Call: "Write", N: 1, Err: noErr},
						readObs(1, "y"),
					},
				},
				{
					name: "Read after own CloseRead",
					run: func(t *testing.T, h *harness, v variant) []obs {
						client, _ := pairOn(h, v)
						cr, ok := client.(interface{ CloseRead() error })
						require.True(t, ok)
						require.NoError(t, cr.CloseRead())
						return []obs{doRead(client, 16)}
					},
					want: []obs{{Call: "Read", Err: eofErr}},
				},
			})
		})
	}
}

// TestSocketHandoffHappensBefore checks, when run with -race, that data
// passed through the connection orders the sender's earlier memory writes
// before the receiver's later reads, as net's Read and Write tell the race
// detector (syscall.Read and syscall.Write synchronise on one variable).
// Without -race it passes trivially.
func TestSocketHandoffHappensBefore(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			h := newHarness(t)
			client, server := h.pair(v)
			shared := new(int)
			seen := h.goIO(func() (int, error) {
				if _, err := io.ReadFull(server, make([]byte, 1)); err != nil {
					return 0, err
				}
				return *shared, nil
			})
			*shared = 42
			_, err := client.Write([]byte{1})
			require.NoError(t, err)
			r := await(t, seen, "receiver")
			require.NoError(t, r.err)
			assert.Equal(t, 42, r.n)
		})
	}
}

// BenchmarkWrite writes 1 KiB messages on a wrapped or a plain conn; a
// plain peer drains them.
func BenchmarkWrite(b *testing.B) {
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			h := newHarness(b)
			c, s := h.tcpPair()
			w := v.wrap(c)
			drained := h.goIO(func() (int, error) {
				n, err := io.Copy(io.Discard, s)
				return int(n), err
			})
			msg := pattern(1 << 10)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := w.Write(msg); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			closeWrite(b, w)
			r := await(b, drained, "drain")
			require.NoError(b, r.err)
		})
	}
}

// BenchmarkRead reads 1 KiB messages from a wrapped or a plain conn; a
// plain peer writes them as fast as it can.
func BenchmarkRead(b *testing.B) {
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			h := newHarness(b)
			c, s := h.tcpPair()
			r := v.wrap(c)
			msg := pattern(1 << 10)
			fed := h.goIO(func() (int, error) {
				for {
					if _, err := s.Write(msg); err != nil {
						return 0, err
					}
				}
			})
			buf := make([]byte, len(msg))
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := io.ReadFull(r, buf); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			require.NoError(b, r.Close())
			require.NoError(b, s.Close())
			res := await(b, fed, "feeder")
			require.Error(b, res.err, "the feeder stops when its conn closes")
		})
	}
}

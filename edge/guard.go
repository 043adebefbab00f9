package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certsight/certsight/internal/rawconn"
	"github.com/certsight/certsight/internal/tick"
)

// GuardOptions bound what one client can hold of the edge. Zero values
// switch a bound off.
type GuardOptions struct {
	// MaxConns is the most open client connections; Accept waits for a free
	// slot (the kernel's backlog queues the rest).
	MaxConns int
	// H2IdleTimeout closes an HTTP/2 connection with no open stream for
	// that long. A stream exists only once its header block is complete, so
	// this also bounds a header block in progress, which net/http's
	// ReadHeaderTimeout does not cover for HTTP/2.
	H2IdleTimeout time.Duration
	// BodyIdleTimeout bounds the wait for each read of a request body (idle
	// time between bytes), over HTTP/1.1 and per HTTP/2 stream.
	BodyIdleTimeout time.Duration
	// MaxConnAge and MaxConnRequests end a connection gracefully once it is
	// older or has served more: HTTP/1.1 answers with Connection: close, an
	// idle HTTP/2 connection is closed.
	MaxConnAge      time.Duration
	MaxConnRequests int64
	// AllowUpgrade lists the Upgrade protocols forwarded (e.g. "websocket",
	// compared case-insensitively, without version). Others are removed
	// from the request, so an origin answering 101 gets a 502 instead of
	// client bytes it never sanitised. "h2c" is never allowed.
	AllowUpgrade []string
}

// Guard applies GuardOptions: wrap the TCP listener with Listener (before
// Edge.Listener), set the server's ConnState to Guard.ConnState, wrap the
// handler with Handler, and run Run while serving.
type Guard struct {
	o       GuardOptions
	slots   chan struct{}
	upgrade map[string]bool

	mu    sync.Mutex
	conns map[*guardConn]struct{}
}

// NewGuard returns a guard; it fails on an impossible option.
func NewGuard(o GuardOptions) (*Guard, error) {
	g := &Guard{o: o, upgrade: map[string]bool{}, conns: map[*guardConn]struct{}{}}
	if o.MaxConns > 0 {
		g.slots = make(chan struct{}, o.MaxConns)
	}
	for _, p := range o.AllowUpgrade {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "h2c" {
			return nil, errors.New("upgrade to h2c is never allowed: it would take the connection past the edge's sanitising")
		}
		if p != "" {
			g.upgrade[p] = true
		}
	}
	return g, nil
}

// guardConn is a client connection as the guard sees it: below TLS, so it
// counts bytes the handshake and HTTP/2 frames arrive in.
type guardConn struct {
	net.Conn
	g        *Guard
	accepted time.Time
	requests atomic.Int64
	// state is the http.ConnState; idleSince is when it last became idle.
	state     atomic.Int32
	idleSince atomic.Int64
	h2        atomic.Bool
	closeOnce sync.Once
}

func (c *guardConn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() {
		c.g.mu.Lock()
		delete(c.g.conns, c)
		c.g.mu.Unlock()
		if c.g.slots != nil {
			<-c.g.slots
		}
	})
	return err
}

type guardListener struct {
	net.Listener
	g *Guard
}

// Listener wraps the TCP listener inner: it holds Accept while MaxConns
// connections are open and tracks each connection for the other bounds.
func (g *Guard) Listener(inner net.Listener) net.Listener {
	return &guardListener{Listener: inner, g: g}
}

func (l *guardListener) Accept() (net.Conn, error) {
	if l.g.slots != nil {
		l.g.slots <- struct{}{}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		if l.g.slots != nil {
			<-l.g.slots
		}
		return nil, err
	}
	gc := &guardConn{Conn: rawconn.Wrap(c), g: l.g, accepted: time.Now()}
	gc.idleSince.Store(gc.accepted.UnixNano())
	l.g.mu.Lock()
	l.g.conns[gc] = struct{}{}
	l.g.mu.Unlock()
	return gc, nil
}

// Open returns the number of open client connections.
func (g *Guard) Open() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

// netConner is what tls.Conn and the edge's own wrappers offer.
type netConner interface{ NetConn() net.Conn }

func findGuardConn(c net.Conn) *guardConn {
	for range 4 {
		switch v := c.(type) {
		case *guardConn:
			return v
		case *stateConn:
			c = v.Conn
		case netConner:
			c = v.NetConn()
		default:
			return nil
		}
	}
	return nil
}

// ConnState is the http.Server.ConnState hook.
func (g *Guard) ConnState(c net.Conn, s http.ConnState) {
	gc := findGuardConn(c)
	if gc == nil {
		return
	}
	if s == http.StateIdle {
		gc.idleSince.Store(time.Now().UnixNano())
		if tc, ok := c.(*tls.Conn); ok && !gc.h2.Load() && tc.ConnectionState().NegotiatedProtocol == "h2" {
			gc.h2.Store(true)
		}
	}
	gc.state.Store(int32(s))
}

type guardKey struct{}

// ConnContext puts the guard's connection into the connection's context,
// for Handler; chain it with Edge.ConnContext.
func (g *Guard) ConnContext(ctx context.Context, c net.Conn) context.Context {
	if gc := findGuardConn(c); gc != nil {
		return context.WithValue(ctx, guardKey{}, gc)
	}
	return ctx
}

// Handler refuses CONNECT (405), removes Upgrade protocols that are not
// allowed, bounds the idle time between request body reads, and asks
// HTTP/1.1 clients to go once their connection is past its age or request
// budget.
func (g *Guard) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect {
			w.Header().Set("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
			http.Error(w, "CONNECT is not supported", http.StatusMethodNotAllowed)
			return
		}
		if _, ok := r.Header["Upgrade"]; ok {
			g.filterUpgrade(r.Header)
		}
		if gc, _ := r.Context().Value(guardKey{}).(*guardConn); gc != nil {
			n := gc.requests.Add(1)
			if r.ProtoMajor == 1 && (g.o.MaxConnRequests > 0 && n >= g.o.MaxConnRequests ||
				g.o.MaxConnAge > 0 && time.Since(gc.accepted) >= g.o.MaxConnAge) {
				w.Header().Set("Connection", "close")
			}
		}
		if g.o.BodyIdleTimeout > 0 && r.Body != nil && r.Body != http.NoBody {
			r.Body = &idleBody{ReadCloser: r.Body, rc: http.NewResponseController(w), d: g.o.BodyIdleTimeout}
		}
		next.ServeHTTP(w, r)
	})
}

// filterUpgrade keeps only allowed protocols in Upgrade; with none left,
// Upgrade and the "upgrade" token of Connection go, and the request is an
// ordinary one.
func (g *Guard) filterUpgrade(h http.Header) {
	var keep []string
	for _, v := range h["Upgrade"] {
		for tok := range strings.SplitSeq(v, ",") {
			tok = strings.TrimSpace(tok)
			name, _, _ := strings.Cut(tok, "/")
			if g.upgrade[strings.ToLower(name)] {
				keep = append(keep, tok)
			}
		}
	}
	if len(keep) > 0 {
		h["Upgrade"] = []string{strings.Join(keep, ", ")}
		return
	}
	delete(h, "Upgrade")
	var conn []string
	for _, v := range h["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if t := strings.TrimSpace(tok); t != "" && !strings.EqualFold(t, "upgrade") {
				conn = append(conn, t)
			}
		}
	}
	if len(conn) == 0 {
		delete(h, "Connection")
	} else {
		h["Connection"] = []string{strings.Join(conn, ", ")}
	}
}

// idleBody sets a fresh read deadline before each read of a request body.
type idleBody struct {
	io.ReadCloser
	rc *http.ResponseController
	d  time.Duration
}

func (b *idleBody) Read(p []byte) (int, error) {
	_ = b.rc.SetReadDeadline(time.Now().Add(b.d)) // unsupported writers: no bound, as before
	return b.ReadCloser.Read(p)
}

// Run sweeps the connections every interval until ctx ends: it closes
// HTTP/2 connections idle (no open stream) for H2IdleTimeout, and idle
// HTTP/2 connections past their age or request budget.
func (g *Guard) Run(ctx context.Context, interval time.Duration) {
	tick.Every(ctx, interval, g.sweep)
}

func (g *Guard) sweep(now time.Time) {
	g.mu.Lock()
	var victims []*guardConn
	for c := range g.conns {
		if g.expired(c, now) {
			victims = append(victims, c)
		}
	}
	g.mu.Unlock()
	for _, c := range victims {
		c.Close()
	}
}

func (g *Guard) expired(c *guardConn, now time.Time) bool {
	if http.ConnState(c.state.Load()) != http.StateIdle || !c.h2.Load() {
		return false // HTTP/1.1 has net/http's own timeouts and Connection: close
	}
	if g.o.H2IdleTimeout > 0 && now.Sub(time.Unix(0, c.idleSince.Load())) >= g.o.H2IdleTimeout {
		return true
	}
	return g.o.MaxConnAge > 0 && now.Sub(c.accepted) >= g.o.MaxConnAge ||
		g.o.MaxConnRequests > 0 && c.requests.Load() >= g.o.MaxConnRequests
}

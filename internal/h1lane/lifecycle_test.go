package h1lane

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certsight/certsight/internal/testtool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dialLane opens a TLS connection and sends a first request, so the lane
// has the connection when it returns (after that response).
func dialLane(t *testing.T, addr string) *tls.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.WriteString(c, req("GET", "/small"))
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	io.Copy(io.Discard, res.Body)
	return c
}

// open is the number of connections the lane holds.
func (l *Lane) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

func TestShutdownClosesIdleAndFinishesBusy(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			started <- struct{}{}
			<-release
		}
		io.WriteString(w, "done")
	})
	srv, lane := server(t, h, true, Options{})
	idle := dialLane(t, srv.Listener.Addr().String())
	busy := dialLane(t, srv.Listener.Addr().String())
	_, err := io.WriteString(busy, req("GET", "/slow"))
	require.NoError(t, err)
	<-started

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- lane.Shutdown(ctx)
	}()
	// The idle connection is closed at once.
	idle.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err := idle.Read(make([]byte, 1))
	assert.Equal(t, 0, n)
	assert.Error(t, err)
	assert.False(t, isTimeout(err), "closed, not left to time out: %v", err)
	// The busy one gets its response, told to close, then EOF.
	close(release)
	out, _ := io.ReadAll(busy)
	assert.Contains(t, string(out), "Connection: close\r\n")
	assert.True(t, strings.HasSuffix(string(out), "done"), string(out))
	require.NoError(t, <-shut)
	assert.Zero(t, lane.open())
}

func TestCloseCancelsRunningRequests(t *testing.T) {
	started := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/wait" {
			started <- struct{}{}
			<-r.Context().Done()
		}
		io.WriteString(w, "x")
	})
	srv, lane := server(t, h, true, Options{})
	c := dialLane(t, srv.Listener.Addr().String())
	_, err := io.WriteString(c, req("GET", "/wait"))
	require.NoError(t, err)
	<-started
	lane.Close()
	require.Eventually(t, func() bool { return lane.open() == 0 }, 5*time.Second, 10*time.Millisecond)
}

func TestTimeouts(t *testing.T) {
	srv, lane := server(t, mux(), true, Options{})
	// server() sets 1 s for both.
	for _, tc := range []struct {
		name string
		send string
	}{
		{"idle keep-alive", ""},
		{"head sent slowly", "GET /small HTTP/1.1\r\nHost: exa"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialLane(t, srv.Listener.Addr().String())
			if tc.send != "" {
				_, err := io.WriteString(c, tc.send)
				require.NoError(t, err)
			}
			start := time.Now()
			n, err := c.Read(make([]byte, 1))
			took := time.Since(start)
			assert.Equal(t, 0, n)
			assert.Error(t, err)
			assert.False(t, isTimeout(err), "the server closed it")
			assert.GreaterOrEqual(t, took, 800*time.Millisecond) // 7/8 of 1 s, less the first response's time
			assert.Less(t, took, 3*time.Second)
		})
	}
	require.Eventually(t, func() bool { return lane.open() == 0 }, 5*time.Second, 10*time.Millisecond)
}

func TestConnStateBalances(t *testing.T) {
	var mu sync.Mutex
	open := map[net.Conn]int{}
	var events []http.ConnState
	track := func(c net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		switch s {
		case http.StateNew:
			open[c]++
		case http.StateClosed, http.StateHijacked:
			open[c]--
		}
		events = append(events, s)
	}
	srv, lane := server(t, mux(), true, Options{ConnState: track})
	out := exchange(t, srv, req("GET", "/small")+req("GET", "/small")+
		"POST /echo HTTP/1.1\r\nHost: example.test\r\nContent-Length: 1\r\n\r\nx"+req("GET", "/small", closing))
	assert.Equal(t, 4, strings.Count(out, "HTTP/1.1 200 OK"))
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		sum := 0
		for _, n := range open {
			sum += n
		}
		return sum == 0 && lane.open() == 0
	}, 5*time.Second, 10*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	// net/http: new, active, hijacked; the lane: new, closed (hand-back);
	// net/http again: new … closed.
	assert.Equal(t, []http.ConnState{http.StateNew, http.StateActive, http.StateHijacked, http.StateNew, http.StateClosed,
		http.StateNew, http.StateActive, http.StateIdle, http.StateActive, http.StateClosed}, events)
}

func TestPanicsAreLoggedAndEndTheConnection(t *testing.T) {
	var buf testtool.SyncBuffer
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/boom" {
			panic("boom")
		}
		io.WriteString(w, "ok")
	})
	srv, lane := server(t, h, true, Options{ErrorLog: log.New(&buf, "", 0)})
	out := exchange(t, srv, req("GET", "/ok")+req("GET", "/boom")+req("GET", "/ok"))
	assert.Equal(t, 1, strings.Count(out, "200 OK"), "nothing after the panic")
	assert.Contains(t, buf.String(), "http: panic serving")
	assert.Contains(t, buf.String(), "boom")
	require.Eventually(t, func() bool { return lane.open() == 0 }, 5*time.Second, 10*time.Millisecond)
}

func TestClientGoneMidResponse(t *testing.T) {
	big := bytes.Repeat([]byte("z"), 8<<20)
	wrote := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			_, err := w.Write(big)
			wrote <- err
			return
		}
		io.WriteString(w, "ok")
	})
	srv, lane := server(t, h, true, Options{})
	c := dialLane(t, srv.Listener.Addr().String())
	_, err := io.WriteString(c, req("GET", "/big"))
	require.NoError(t, err)
	c.Read(make([]byte, 1024))
	c.NetConn().Close() // gone without reading
	select {
	case err := <-wrote:
		assert.Error(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's write did not fail")
	}
	require.Eventually(t, func() bool { return lane.open() == 0 }, 5*time.Second, 10*time.Millisecond)
}

func TestHandBackAfterTheServerStopped(t *testing.T) {
	srv, lane := server(t, mux(), true, Options{})
	c := dialLane(t, srv.Listener.Addr().String())
	lane.Listener().Close() // as Shutdown does
	_, err := io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: example.test\r\nContent-Length: 1\r\n\r\nx")
	require.NoError(t, err)
	n, err := c.Read(make([]byte, 1))
	assert.Equal(t, 0, n)
	assert.Error(t, err, "closed, not left hanging")
	require.Eventually(t, func() bool { return lane.open() == 0 }, 5*time.Second, 10*time.Millisecond)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

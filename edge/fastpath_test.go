package edge

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/edge/rules"
)

// originSaw is one request as the origin received it.
type originSaw struct {
	Method, RequestURI, Host string
	Header                   http.Header
}

func recordingOrigin(t *testing.T) (*url.URL, func() []originSaw) {
	t.Helper()
	var mu sync.Mutex
	var all []originSaw
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		all = append(all, originSaw{r.Method, r.RequestURI, r.Host, r.Header.Clone()})
		mu.Unlock()
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "must not reach the client")
		w.Header().Set("Keep-Alive", "timeout=5")
		io.WriteString(w, "hello\n")
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	return u, func() []originSaw {
		mu.Lock()
		defer mu.Unlock()
		return append([]originSaw(nil), all...)
	}
}

// The fast path and httputil.ReverseProxy (forced by a custom Transport)
// must send the origin the same request and the client the same response.
func TestFastPathMatchesReverseProxy(t *testing.T) {
	p := newPKI(t)
	xffRule, err := rules.LoadRuleset(strings.NewReader(`{"rules":[{"expression":"cf.tls_client_auth.cert_verified",
		"action":"rewrite","action_parameters":{"headers":{"X-Forwarded-For":{"operation":"set","value":"203.0.113.9"}}}}]}`),
		rules.NewSchema(rules.CloudflareFields()))
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		cfg    Config
		method string
		target string
		header http.Header
	}{
		{"typical GET", Config{}, http.MethodGet, "/api/items?a=1&b=%20x", http.Header{"Accept": {"*/*"}}},
		{"spoofed managed headers and forwarding headers", Config{ManagedTransform: true}, http.MethodGet, "/p",
			http.Header{"Client-Cert": {":Zm9v:"}, "Client_cert": {"x"}, "Client-Cert-Chain": {":Zm9v:"},
				"X-Forwarded-For": {"198.51.100.1"}, "Forwarded": {"for=198.51.100.1"}, "X-Forwarded-Host": {"evil"},
				"X-Forwarded-Proto": {"http"}, "Cf-Cert-Presented": {"true"}}},
		{"Connection: keep-alive is the client's hop", Config{}, http.MethodGet, "/k", http.Header{"Connection": {"keep-alive"}}},
		{"HEAD", Config{}, http.MethodHead, "/h", nil},
		{"OPTIONS", Config{}, http.MethodOptions, "/o", nil},
		{"a rule that sets X-Forwarded-For wins", Config{Rules: xffRule}, http.MethodGet, "/x",
			http.Header{"X-Forwarded-For": {"198.51.100.1"}}},
		{"escaped path", Config{}, http.MethodGet, "/a%2Fb/c%20d", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Verifier = &Verifier{Roots: p.pool}
			e, err := New(cfg)
			require.NoError(t, err)
			ou, saw := recordingOrigin(t)
			type result struct {
				origin originSaw
				status int
				header http.Header
				body   string
			}
			run := func(opts ProxyOptions) result {
				u, c := startEdgeHandler(t, p, e, e.Proxy(ou, opts))
				req, err := http.NewRequest(tc.method, u+tc.target, nil)
				require.NoError(t, err)
				for k, v := range tc.header {
					req.Header[k] = v
				}
				req.Header.Set("Accept-Encoding", "identity") // http.Transport would add gzip
				resp, err := c.Do(req)
				require.NoError(t, err)
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				all := saw()
				require.NotEmpty(t, all)
				h := resp.Header.Clone()
				h.Del("Date")
				last := all[len(all)-1]
				// Each run has its own edge listener.
				assert.Equal(t, strings.TrimPrefix(u, "https://"), last.Header.Get("X-Forwarded-Host"))
				last.Header.Del("X-Forwarded-Host")
				return result{last, resp.StatusCode, h, string(body)}
			}
			fast := run(ProxyOptions{})
			slow := run(ProxyOptions{Transport: &http.Transport{Proxy: nil}})
			assert.Equal(t, slow, fast)
			assert.Empty(t, fast.header.Values("X-Hop"), "a response header named in Connection is hop-by-hop")
			assert.Empty(t, fast.origin.Header.Values("Forwarded"))
			if tc.cfg.Rules == nil {
				assert.Len(t, fast.origin.Header.Values("Client-Cert"), 1)
			}
		})
	}
}

func TestFastEligible(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		target string
		header http.Header
		body   string
		want   bool
	}{
		{"GET", "GET", "/", nil, "", true},
		{"HEAD with Connection: close", "HEAD", "/", http.Header{"Connection": {"close"}}, "", true},
		{"POST with a body", "POST", "/", nil, "x", false},
		{"POST without a body (not replayable)", "POST", "/", nil, "", false},
		{"DELETE", "DELETE", "/", nil, "", false},
		{"upgrade", "GET", "/", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}}, "", false},
		{"a header named in Connection", "GET", "/", http.Header{"Connection": {"X-Foo"}}, "", false},
		{"Te", "GET", "/", http.Header{"Te": {"trailers"}}, "", false},
		{"Expect", "GET", "/", http.Header{"Expect": {"100-continue"}}, "", false},
		{"Proxy-Authorization", "GET", "/", http.Header{"Proxy-Authorization": {"x"}}, "", false},
		{"query with a semicolon", "GET", "/?a=1;b=2", nil, "", false},
		{"query with a bad escape", "GET", "/?a=%zz", nil, "", false},
		{"query with good escapes", "GET", "/?a=%20&b=%2F", nil, "", true},
		{"asterisk form", "OPTIONS", "*", nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			r := httptest.NewRequest(tc.method, "http://example.com/", body)
			u, err := url.ParseRequestURI(tc.target)
			require.NoError(t, err)
			r.URL = u
			for k, v := range tc.header {
				r.Header[k] = v
			}
			assert.Equal(t, tc.want, fastEligible(r))
		})
	}
}

func TestCheckHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.Header
		ok   bool
	}{
		{"ordinary", http.Header{"Client-Cert": {":AAA=:"}, "X-Tab": {"a\tb"}, "X-Utf8": {"caf\xc3\xa9"}}, true},
		{"newline in a value", http.Header{"Cf-Cert-Subject-Dn": {"CN=a\r\nX-Evil: 1"}}, false},
		{"NUL in a value", http.Header{"X": {"a\x00"}}, false},
		{"DEL in a value", http.Header{"X": {"a\x7f"}}, false},
		{"space in a name", http.Header{"X Evil": {"1"}}, false},
		{"colon in a name", http.Header{"X:Evil": {"1"}}, false},
		{"empty name", http.Header{"": {"1"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.ok, checkHeader(tc.h) == nil)
		})
	}
}

// scriptedOrigin serves raw HTTP/1.1: respond writes the answer to each
// request on a connection; it counts connections.
type scriptedOrigin struct {
	ln    net.Listener
	conns atomic.Int32
	wg    sync.WaitGroup
	mu    sync.Mutex
	open  []net.Conn
}

func startScriptedOrigin(t *testing.T, respond func(n int, req *http.Request, c net.Conn) bool) (*scriptedOrigin, *url.URL) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	o := &scriptedOrigin{ln: ln}
	var reqs atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			o.conns.Add(1)
			o.mu.Lock()
			o.open = append(o.open, c)
			o.mu.Unlock()
			o.wg.Add(1)
			go func() {
				defer o.wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					if !respond(int(reqs.Add(1)), req, c) {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		// The proxy's pool may still hold connections open.
		ln.Close()
		o.mu.Lock()
		for _, c := range o.open {
			c.Close()
		}
		o.mu.Unlock()
		o.wg.Wait()
	})
	return o, &url.URL{Scheme: "http", Host: ln.Addr().String()}
}

func TestFastPathConnectionReuse(t *testing.T) {
	const ok = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"
	for _, tc := range []struct {
		name      string
		respond   func(n int, c net.Conn) bool // false: close the connection
		wantConns int32
	}{
		{"keep-alive responses share one connection", func(n int, c net.Conn) bool {
			io.WriteString(c, ok)
			return true
		}, 1},
		{"chunked responses share one connection", func(n int, c net.Conn) bool {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nok\n\r\n0\r\n\r\n")
			return true
		}, 1},
		{"origin closes idle connections: each request retried on a new one", func(n int, c net.Conn) bool {
			io.WriteString(c, ok)
			return false
		}, 4},
		{"Connection: close is honoured", func(n int, c net.Conn) bool {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nok\n")
			return true
		}, 4},
		{"a body read to the close is not reused", func(n int, c net.Conn) bool {
			io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\nok\n")
			return false
		}, 4},
		{"bytes after the framed body: connection dropped", func(n int, c net.Conn) bool {
			io.WriteString(c, ok+"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil")
			return true
		}, 4},
		{"an unsolicited response after the exchange: connection dropped", func(n int, c net.Conn) bool {
			io.WriteString(c, ok)
			return true
		}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPKI(t)
			unsolicited := strings.HasPrefix(tc.name, "an unsolicited")
			var conns []net.Conn
			var mu sync.Mutex
			o, ou := startScriptedOrigin(t, func(n int, _ *http.Request, c net.Conn) bool {
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
				return tc.respond(n, c)
			})
			e, err := New(Config{Verifier: &Verifier{Roots: p.pool}})
			require.NoError(t, err)
			u, c := startEdgeHandler(t, p, e, e.Proxy(ou, ProxyOptions{}))
			for i := range 4 {
				resp, err := c.Get(u + "/")
				require.NoError(t, err, "request %d", i)
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.Equal(t, http.StatusOK, resp.StatusCode)
				require.Equal(t, "ok\n", string(body), "request %d", i)
				if unsolicited {
					// The origin speaks out of turn on the idle connection.
					mu.Lock()
					io.WriteString(conns[len(conns)-1], "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil")
					mu.Unlock()
				}
			}
			assert.Equal(t, tc.wantConns, o.conns.Load())
		})
	}
}

func TestFastPathResponses(t *testing.T) {
	p := newPKI(t)
	_, ou := startScriptedOrigin(t, func(n int, req *http.Request, c net.Conn) bool {
		switch req.URL.Path {
		case "/trailer":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n"+
				"5\r\nhello\r\n0\r\nX-Sum: 42\r\n\r\n")
		case "/hints":
			io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"+
				"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		case "/head":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
		case "/short":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
			return false
		case "/switch":
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: evil\r\nConnection: Upgrade\r\n\r\n")
			return false
		case "/garbage":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")
			return false
		}
		return true
	})
	e, err := New(Config{Verifier: &Verifier{Roots: p.pool}})
	require.NoError(t, err)
	u, c := startEdgeHandler(t, p, e, e.Proxy(ou, ProxyOptions{}))

	t.Run("trailers reach the client", func(t *testing.T) {
		resp, err := c.Get(u + "/trailer")
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, "hello", string(body))
		assert.Equal(t, "42", resp.Trailer.Get("X-Sum"))
	})
	t.Run("1xx responses are forwarded", func(t *testing.T) {
		var got []int
		var link string
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				got = append(got, code)
				link = h.Get("Link")
				return nil
			}})
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u+"/hints", nil)
		resp, err := c.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, "ok", string(body))
		assert.Equal(t, []int{103}, got)
		assert.Equal(t, "</s.css>; rel=preload", link)
	})
	t.Run("HEAD has no body", func(t *testing.T) {
		resp, err := c.Head(u + "/head")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.EqualValues(t, 1000, resp.ContentLength)
	})
	t.Run("a body cut short is cut short for the client too", func(t *testing.T) {
		// Either the header never arrives or the body ends early; never a
		// whole-looking response.
		resp, err := c.Get(u + "/short")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		assert.Error(t, err)
	})
	for _, path := range []string{"/switch", "/garbage"} {
		t.Run("bad gateway for "+path, func(t *testing.T) {
			resp, err := c.Get(u + path)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
		})
	}
}

func BenchmarkCheckHeader(b *testing.B) {
	h := http.Header{"Client-Cert": {":" + strings.Repeat("MIIB0DCCAXagAwIBAgILAO6GYXpSQ", 40) + ":"},
		"Accept": {"*/*"}, "User-Agent": {"bench/1"}}
	for b.Loop() {
		if checkHeader(h) != nil {
			b.Fatal("rejected")
		}
	}
}

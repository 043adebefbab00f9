package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	osquery "github.com/osquery/osquery-go"
	gen "github.com/osquery/osquery-go/gen/osquery"

	"github.com/certsight/certsight/tables"
)

// serveOsquery registers the tables with the extension manager at o.socket
// and serves them until osquery sends shutdown, stops answering pings, or ctx
// ends (SIGTERM).
func serveOsquery(ctx context.Context, o options, log *slog.Logger) error {
	start := time.Now()
	timeout := seconds(o.timeout)
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	interval := seconds(o.interval)
	if interval <= 0 {
		interval = 3 * time.Second
	}
	// Calls to the manager get at least a second: --timeout is how long to
	// wait for the socket, not how slow a healthy osquery may answer.
	mc, err := dialManager(ctx, o.socket, timeout, max(timeout, time.Second))
	if err != nil {
		return err
	}
	defer mc.Close()
	var registered atomic.Bool
	mc.onRegistered = func(st *gen.ExtensionStatus) {
		registered.Store(true)
		log.Debug("registered", "uuid", st.UUID, "code", st.Code, "message", st.Message, "since_start", time.Since(start))
	}

	// thrift's TSimpleServer.Stop waits for every open client connection
	// before Serve returns, forever by default; osquery keeps its connection
	// open, so a shutdown it requests would never complete. Bound the wait.
	thrift.ServerStopTimeout = 500 * time.Millisecond

	srv, err := osquery.NewExtensionManagerServer(extensionName, o.socket,
		osquery.WithClient(mc),
		osquery.ExtensionVersion(version),
		osquery.ServerTimeout(timeout),
		osquery.ServerPingInterval(interval),
		// Buffered: osquery-go's default transport makes one write syscall
		// per Thrift primitive, over a million for 10,000 rows of 25
		// columns. The processor flushes at the end of each response.
		osquery.WithTransportFactory(thrift.NewTBufferedTransportFactory(64<<10)),
	)
	if err != nil {
		return fmt.Errorf("creating extension server: %w", err)
	}
	var names []string
	for _, t := range tables.All(deps(o, log)) {
		srv.RegisterPlugin(t.Plugin())
		names = append(names, t.Name)
	}

	served := make(chan error, 1)
	go func() { served <- srv.Start() }()
	log.Debug("registering", "socket", o.socket, "tables", names)

	// Our own watch instead of srv.Run: a manager that stops answering is a
	// normal end (osquery exited or restarted), not an error.
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case err := <-served:
			if err != nil && !registered.Load() {
				return fmt.Errorf("registering with the extension manager at %s failed: %w", o.socket, err)
			}
			if err != nil {
				return err // the socket could not be served
			}
			log.Info("shut down by osquery")
			return nil
		case <-ctx.Done():
			log.Info("signal received, shutting down")
			return shutdown(srv, served)
		case <-ticker.C:
			st, err := mc.Ping()
			if err == nil && st.Code != 0 {
				err = fmt.Errorf("ping status %d: %s", st.Code, st.Message)
			}
			if err != nil && !registered.Load() {
				// Never registered: osquery never saw this extension, so
				// this is a failure to start, not a normal end.
				_ = shutdown(srv, served)
				return fmt.Errorf("the extension manager at %s never answered registration: %w", o.socket, err)
			}
			if err != nil {
				log.Info("extension manager went away, exiting", "err", err)
				return shutdown(srv, served)
			}
		}
	}
}

// shutdown deregisters (best effort) and stops serving; it waits briefly for
// the server to stop, as an open osquery connection may hold it.
func shutdown(srv *osquery.ExtensionManagerServer, served <-chan error) error {
	_ = srv.Shutdown(context.Background())
	select {
	case <-served:
	case <-time.After(time.Second):
	}
	return nil
}

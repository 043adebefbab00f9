package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	osquery "github.com/osquery/osquery-go"
	gen "github.com/osquery/osquery-go/gen/osquery"
)

// managerClient is the extension's connection to osquery's extension
// manager. osquery-go's NewClient polls for the socket every 200 ms before
// its first dial even when the socket is already there; this client dials at
// once and polls quickly only while the socket is missing, so registration
// takes milliseconds. It implements osquery.ExtensionManager for
// osquery.WithClient.
type managerClient struct {
	mu        sync.Mutex
	sock      *thrift.TSocket
	client    *gen.ExtensionManagerClient
	timeout   time.Duration
	deregDone map[gen.ExtensionRouteUUID]bool
	// onRegistered, when set, sees the manager's answer to registration.
	onRegistered func(*gen.ExtensionStatus)
}

var _ osquery.ExtensionManager = (*managerClient)(nil)

// socketPoll is how often a missing manager socket is looked for again.
const socketPoll = 10 * time.Millisecond

// dialManager connects to the manager socket at path, waiting up to wait for
// it to appear. Each call afterwards may take up to callTimeout.
func dialManager(ctx context.Context, path string, wait, callTimeout time.Duration) (*managerClient, error) {
	deadline := time.Now().Add(wait)
	var sock *thrift.TSocket
	for {
		conn, err := dial(ctx, path, callTimeout)
		if err == nil {
			sock = thrift.NewTSocketFromConnConf(conn, &thrift.TConfiguration{
				ConnectTimeout: callTimeout,
				SocketTimeout:  callTimeout,
			})
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("connecting to extension manager %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(socketPoll):
		}
	}
	return &managerClient{
		sock:      sock,
		client:    gen.NewExtensionManagerClientFactory(sock, thrift.NewTBinaryProtocolFactoryConf(nil)),
		timeout:   callTimeout,
		deregDone: map[gen.ExtensionRouteUUID]bool{},
	}, nil
}

func dial(ctx context.Context, path string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	return dialSocket(ctx, &d, path)
}

// call runs f under the client's lock (one Thrift connection carries one
// call at a time) with a deadline.
func (m *managerClient) call(f func(ctx context.Context) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.client == nil {
		return errors.New("extension manager connection is closed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.timeout)
	defer cancel()
	return f(ctx)
}

func (m *managerClient) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sock != nil {
		_ = m.sock.Close()
	}
	m.client = nil
}

func (m *managerClient) Ping() (st *gen.ExtensionStatus, err error) {
	err = m.call(func(ctx context.Context) error { st, err = m.client.Ping(ctx); return err })
	return st, err
}

func (m *managerClient) Call(registry, item string, req gen.ExtensionPluginRequest) (r *gen.ExtensionResponse, err error) {
	err = m.call(func(ctx context.Context) error { r, err = m.client.Call(ctx, registry, item, req); return err })
	return r, err
}

func (m *managerClient) Extensions() (l gen.InternalExtensionList, err error) {
	err = m.call(func(ctx context.Context) error { l, err = m.client.Extensions(ctx); return err })
	return l, err
}

func (m *managerClient) RegisterExtension(info *gen.InternalExtensionInfo, reg gen.ExtensionRegistry) (st *gen.ExtensionStatus, err error) {
	err = m.call(func(ctx context.Context) error { st, err = m.client.RegisterExtension(ctx, info, reg); return err })
	if err == nil && m.onRegistered != nil {
		m.onRegistered(st)
	}
	return st, err
}

// DeregisterExtension sends the request once per uuid: osquery-go's Shutdown
// runs both when osquery asks for it and when Run returns.
func (m *managerClient) DeregisterExtension(uuid gen.ExtensionRouteUUID) (st *gen.ExtensionStatus, err error) {
	err = m.call(func(ctx context.Context) error {
		if m.deregDone[uuid] {
			st = &gen.ExtensionStatus{Code: 0, Message: "already deregistered"}
			return nil
		}
		m.deregDone[uuid] = true
		st, err = m.client.DeregisterExtension(ctx, uuid)
		return err
	})
	return st, err
}

func (m *managerClient) Options() (l gen.InternalOptionList, err error) {
	err = m.call(func(ctx context.Context) error { l, err = m.client.Options(ctx); return err })
	return l, err
}

func (m *managerClient) Query(sql string) (r *gen.ExtensionResponse, err error) {
	err = m.call(func(ctx context.Context) error { r, err = m.client.Query(ctx, sql); return err })
	return r, err
}

func (m *managerClient) GetQueryColumns(sql string) (r *gen.ExtensionResponse, err error) {
	err = m.call(func(ctx context.Context) error { r, err = m.client.GetQueryColumns(ctx, sql); return err })
	return r, err
}

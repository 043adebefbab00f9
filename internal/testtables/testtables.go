// Package testtables is test support for the tables package: a fake
// tables.Scanner that records its calls. Certificates come from
// internal/testpki.
package testtables

import (
	"context"
	"sync"

	"github.com/certsight/certsight/stores"
)

// Call is one call a FakeScanner received.
type Call struct {
	Method   string // "Paths", "Defaults" or "DefaultsAt"
	Paths    []string
	Location stores.Location
	Kinds    []stores.Kind
}

// FakeScanner is a tables.Scanner that records its calls and answers
// with Respond (an empty result when Respond is nil), handing the answer's
// entries over one at a time, then its errors.
type FakeScanner struct {
	Respond func(ctx context.Context, c Call) stores.Result

	mu    sync.Mutex
	calls []Call
}

// Calls returns the calls received so far.
func (f *FakeScanner) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

func (f *FakeScanner) answer(ctx context.Context, c Call) stores.Result {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	if f.Respond == nil {
		return stores.Result{}
	}
	return f.Respond(ctx, c)
}

// Paths records the call and answers it.
func (f *FakeScanner) Paths(ctx context.Context, paths []string, kinds ...stores.Kind) stores.Seq {
	return f.seq(ctx, Call{Method: "Paths", Paths: paths, Kinds: kinds})
}

// Defaults records the call and answers it.
func (f *FakeScanner) Defaults(ctx context.Context, kinds ...stores.Kind) stores.Seq {
	return f.seq(ctx, Call{Method: "Defaults", Kinds: kinds})
}

// DefaultsAt records the call and answers it.
func (f *FakeScanner) DefaultsAt(ctx context.Context, loc stores.Location, kinds ...stores.Kind) stores.Seq {
	return f.seq(ctx, Call{Method: "DefaultsAt", Location: loc, Kinds: kinds})
}

// seq records the call when the read starts, as a real scanner reads then.
func (f *FakeScanner) seq(ctx context.Context, c Call) stores.Seq {
	return func(yield func(stores.Entry, error) bool) {
		f.answer(ctx, c).Seq()(yield)
	}
}

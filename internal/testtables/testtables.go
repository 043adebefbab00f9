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

// FakeScanner is a tables.EachScanner that records its calls and answers
// with Respond (an empty result when Respond is nil). PathsEach and
// DefaultsEach record themselves as "Paths" and "Defaults" and hand
// Respond's entries over one at a time.
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
func (f *FakeScanner) Paths(ctx context.Context, paths []string, kinds ...stores.Kind) stores.Result {
	return f.answer(ctx, Call{Method: "Paths", Paths: paths, Kinds: kinds})
}

// Defaults records the call and answers it.
func (f *FakeScanner) Defaults(ctx context.Context, kinds ...stores.Kind) stores.Result {
	return f.answer(ctx, Call{Method: "Defaults", Kinds: kinds})
}

// DefaultsAt records the call and answers it.
func (f *FakeScanner) DefaultsAt(ctx context.Context, loc stores.Location, kinds ...stores.Kind) stores.Result {
	return f.answer(ctx, Call{Method: "DefaultsAt", Location: loc, Kinds: kinds})
}

// PathsEach records the call as "Paths" and hands its answer to fn.
func (f *FakeScanner) PathsEach(ctx context.Context, paths []string, fn func(stores.Entry) error, kinds ...stores.Kind) []error {
	return stores.Each(f.Paths(ctx, paths, kinds...), fn)
}

// DefaultsEach records the call as "Defaults" and hands its answer to fn.
func (f *FakeScanner) DefaultsEach(ctx context.Context, fn func(stores.Entry) error, kinds ...stores.Kind) []error {
	return stores.Each(f.Defaults(ctx, kinds...), fn)
}

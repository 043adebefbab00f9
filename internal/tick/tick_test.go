package tick

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEvery(t *testing.T) {
	tests := []struct {
		name     string
		interval time.Duration
		wantGap  time.Duration // the shortest wait allowed before the first call
	}{
		{name: "given interval", interval: 20 * time.Millisecond, wantGap: 20 * time.Millisecond},
		{name: "zero means the default", interval: 0, wantGap: DefaultInterval},
		{name: "negative means the default", interval: -time.Minute, wantGap: DefaultInterval},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			start := time.Now()
			calls := make(chan time.Time, 16)
			done := make(chan struct{})
			go func() {
				defer close(done)
				Every(ctx, tt.interval, func(now time.Time) {
					select {
					case calls <- now:
					default:
					}
				})
			}()
			var first time.Time
			select {
			case first = <-calls:
			case <-time.After(tt.wantGap + 5*time.Second):
				t.Fatal("fn was never called")
			}
			assert.GreaterOrEqual(t, first.Sub(start), tt.wantGap-5*time.Millisecond, "first call came before one interval")
			select {
			case second := <-calls:
				assert.True(t, second.After(first), "ticks go forward")
			case <-time.After(tt.wantGap + 5*time.Second):
				t.Fatal("fn was called only once")
			}
			cancel()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Every did not return after the context ended")
			}
		})
	}
}

func TestEveryStopsCallingAfterTheEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var calls atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		Every(ctx, time.Millisecond, func(time.Time) { calls.Add(1) })
	}()
	require.Eventually(t, func() bool { return calls.Load() >= 3 }, 5*time.Second, time.Millisecond)
	cancel()
	<-done
	after := calls.Load()
	time.Sleep(20 * time.Millisecond)
	assert.Equal(t, after, calls.Load(), "fn ran after Every returned")
}

func TestEveryEndedContextNeverCalls(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	called := false
	Every(ctx, time.Millisecond, func(time.Time) { called = true })
	assert.False(t, called)
}

package deadline

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestAhead(t *testing.T) {
	start := time.Unix(1000, 0)
	d := 8 * time.Second
	for _, tc := range []struct {
		name    string
		set     time.Time // before the call (zero: none)
		now     time.Time
		move    bool
		wantFor time.Time
	}{
		{"none set", time.Time{}, start, true, start.Add(d)},
		{"just set", start.Add(d), start, false, start.Add(d)},
		{"an eighth used", start.Add(d), start.Add(time.Second), false, start.Add(d)},
		{"more than an eighth used", start.Add(d), start.Add(time.Second + 1), true, start.Add(time.Second + 1).Add(d)},
		{"already past", start.Add(d), start.Add(2 * d), true, start.Add(3 * d)},
		{"further than d ahead (a longer bound set before)", start.Add(time.Minute), start, true, start.Add(d)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l Lazy
			l.Set(tc.set)
			got, move := l.Ahead(tc.now, d)
			assert.Equal(t, tc.move, move)
			assert.Equal(t, tc.wantFor, got)
			assert.Equal(t, got, l.At())
			left := got.Sub(tc.now)
			assert.True(t, left >= d-d/8 && left <= d, "the bound is %v, want 7/8·d to d", left)
		})
	}
}

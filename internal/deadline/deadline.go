// Package deadline keeps a connection's read deadline about a duration
// ahead without a timer update per request.
//
// Setting a deadline on a Go connection modifies a runtime timer under a
// lock; a proxy that sets "now + timeout" before every request on a
// kept-alive connection pays that each time for a bound that barely moves.
// Lazy moves the deadline only when it would come sooner than 7/8 of the
// duration from now, so the bound a request gets lies between 7/8 of it and
// all of it, and a busy connection pays once per eighth of the duration.
package deadline

import "time"

// Lazy remembers the read deadline last set on one connection. It is not
// safe for concurrent use: one goroutine reads the connection.
type Lazy struct{ at time.Time }

// Ahead returns the deadline to set so that the connection's lies between
// now + 7/8·d and now + d, and whether it must be set (false: the one set
// already does). d must be positive.
func (l *Lazy) Ahead(now time.Time, d time.Duration) (time.Time, bool) {
	if left := l.at.Sub(now); !l.at.IsZero() && left >= d-d/8 && left <= d {
		return l.at, false
	}
	l.at = now.Add(d)
	return l.at, true
}

// Set records a deadline set some other way (the zero time: none).
func (l *Lazy) Set(t time.Time) { l.at = t }

// At is the deadline last set (the zero time: none).
func (l *Lazy) At() time.Time { return l.at }

// Package enum spells the values of certsight's small integer enums (the
// edge's flag modes, the private-key states) from one table each, so that
// String and the flag's parser cannot disagree and a new value is one word
// in one place.
package enum

import (
	"fmt"
	"strings"
)

// Names spells the values 0 … len(Words)-1 of the enum T.
type Names[T ~int | ~uint8] struct {
	// Type is the Go type's name: a value outside Words prints as
	// "Type(7)", so a bad value is visible rather than passed off as a
	// good one.
	Type string
	// What names a value in Parse's error ("client-auth mode").
	What string
	// Words[v] spells the value v, as the flag takes it and String prints it.
	Words []string
	// Aliases are further spellings Parse accepts ("" for the default, JSON
	// true and false of a --flags-file).
	Aliases map[string]T
	// Else, when set, is what String prints for a value outside Words: the
	// spelling of how such a value is treated (a policy that is not "open"
	// is closed).
	Else string
}

// String spells v.
func (n Names[T]) String(v T) string {
	if int(v) >= 0 && int(v) < len(n.Words) {
		return n.Words[v]
	}
	if n.Else != "" {
		return n.Else
	}
	return fmt.Sprintf("%s(%d)", n.Type, int(v))
}

// Parse reads a spelling (a word of Words or an alias); any other is an
// error that lists the words.
func (n Names[T]) Parse(s string) (T, error) {
	for i, w := range n.Words {
		if s == w {
			return T(i), nil
		}
	}
	if v, ok := n.Aliases[s]; ok {
		return v, nil
	}
	want := strings.Join(n.Words, ", ")
	if k := len(n.Words); k > 1 {
		want = strings.Join(n.Words[:k-1], ", ") + " or " + n.Words[k-1]
	}
	return 0, fmt.Errorf("unknown %s %q (want %s)", n.What, s, want)
}

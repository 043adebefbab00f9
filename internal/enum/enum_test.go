package enum

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type mode int

var modes = Names[mode]{Type: "mode", What: "test mode", Words: []string{"off", "some", "all"},
	Aliases: map[string]mode{"": 0, "true": 2}}

func TestString(t *testing.T) {
	cases := []struct {
		names Names[mode]
		v     mode
		want  string
	}{
		{modes, 0, "off"},
		{modes, 2, "all"},
		{modes, 3, "mode(3)"},
		{modes, -1, "mode(-1)"},
		{Names[mode]{Type: "mode", Words: []string{"closed", "open"}, Else: "closed"}, 7, "closed"},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, tc.names.String(tc.v))
	}
}

func TestParse(t *testing.T) {
	cases := []struct {
		in      string
		want    mode
		wantErr string
	}{
		{in: "off", want: 0},
		{in: "some", want: 1},
		{in: "all", want: 2},
		{in: "", want: 0},
		{in: "true", want: 2},
		{in: "ALL", wantErr: `unknown test mode "ALL" (want off, some or all)`},
		{in: "mode(1)", wantErr: `unknown test mode "mode(1)" (want off, some or all)`},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := modes.Parse(tc.in)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	_, err := Names[mode]{What: "one", Words: []string{"only"}}.Parse("x")
	assert.EqualError(t, err, `unknown one "x" (want only)`)
}

// Every word parses back to its value: String and Parse agree.
func TestRoundTrip(t *testing.T) {
	for i := range modes.Words {
		v, err := modes.Parse(modes.String(mode(i)))
		require.NoError(t, err)
		assert.Equal(t, mode(i), v)
	}
}

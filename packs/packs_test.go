package packs_test

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// osqueryQuery is one query of an osquery pack (osquery configuration docs).
type osqueryQuery struct {
	Query       string `json:"query"`
	Interval    int    `json:"interval"`
	Snapshot    *bool  `json:"snapshot,omitempty"`
	Removed     *bool  `json:"removed,omitempty"`
	Platform    string `json:"platform"`
	Version     string `json:"version"`
	Shard       int    `json:"shard,omitempty"`
	Denylist    *bool  `json:"denylist,omitempty"`
	Description string `json:"description"`
	Value       string `json:"value"`
}

type osqueryPack struct {
	Platform  string                  `json:"platform"`
	Version   string                  `json:"version"`
	Discovery []string                `json:"discovery"`
	Queries   map[string]osqueryQuery `json:"queries"`
}

// fleetReport is one item of a Fleet GitOps `reports:` list.
type fleetReport struct {
	Name               string `yaml:"name"`
	Description        string `yaml:"description"`
	Query              string `yaml:"query"`
	Interval           int    `yaml:"interval"`
	Platform           string `yaml:"platform"`
	MinOsqueryVersion  string `yaml:"min_osquery_version"`
	Logging            string `yaml:"logging"`
	AutomationsEnabled bool   `yaml:"automations_enabled"`
	ObserverCanRun     bool   `yaml:"observer_can_run"`
	DiscardData        bool   `yaml:"discard_data"`
}

type legacyDoc struct {
	APIVersion string    `yaml:"apiVersion"`
	Kind       string    `yaml:"kind"`
	Spec       yaml.Node `yaml:"spec"`
}

type legacyQuery struct {
	Name              string `yaml:"name"`
	Description       string `yaml:"description"`
	Query             string `yaml:"query"`
	Platform          string `yaml:"platform"`
	MinOsqueryVersion string `yaml:"min_osquery_version"`
	Logging           string `yaml:"logging"`
}

type legacyPack struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Platform    string `yaml:"platform"`
	Disabled    bool   `yaml:"disabled"`
	Targets     struct {
		Labels []string `yaml:"labels"`
	} `yaml:"targets"`
	Queries []struct {
		Query       string `yaml:"query"`
		Name        string `yaml:"name"`
		Description string `yaml:"description"`
		Interval    int    `yaml:"interval"`
		Snapshot    bool   `yaml:"snapshot"`
		Removed     bool   `yaml:"removed"`
		Platform    string `yaml:"platform"`
		Version     string `yaml:"version"`
	} `yaml:"queries"`
}

var (
	osqueryPlatforms = []string{"darwin", "linux", "posix", "windows", "any", "all", "freebsd"}
	fleetPlatforms   = []string{"darwin", "linux", "windows", "chrome"}
	fleetLogging     = []string{"snapshot", "differential", "differential_ignore_removals"}
	versionRE        = regexp.MustCompile(`^\d+\.\d+\.\d+$`)
	ourTables        = regexp.MustCompile(`\bFROM (client_certificates|cert_posture|mtls_certificates)\b`)
)

func loadPack(t *testing.T) osqueryPack {
	t.Helper()
	data, err := os.ReadFile("certsight.conf")
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p osqueryPack
	require.NoError(t, dec.Decode(&p), "certsight.conf must hold only osquery pack keys")
	return p
}

func checkPlatforms(t *testing.T, where, list string, allowed []string) {
	t.Helper()
	require.NotEmpty(t, list, "%s: platform", where)
	for _, p := range strings.Split(list, ",") {
		assert.Contains(t, allowed, p, "%s: platform %q", where, p)
	}
}

func TestOsqueryPackFollowsTheFormat(t *testing.T) {
	p := loadPack(t)
	checkPlatforms(t, "pack", p.Platform, osqueryPlatforms)
	assert.Regexp(t, versionRE, p.Version)
	require.Len(t, p.Queries, 6)
	for name, q := range p.Queries {
		t.Run(name, func(t *testing.T) {
			assert.True(t, strings.HasPrefix(name, "certsight_"), "query names are prefixed")
			assert.Regexp(t, ourTables, q.Query)
			assert.True(t, strings.HasSuffix(q.Query, ";"))
			assert.Greater(t, q.Interval, 0)
			assert.LessOrEqual(t, q.Interval, 604800, "osquery caps intervals at a week")
			checkPlatforms(t, name, q.Platform, osqueryPlatforms)
			assert.Regexp(t, versionRE, q.Version)
			assert.NotEmpty(t, q.Description)
			assert.NotEmpty(t, q.Value)
			if q.Snapshot != nil && *q.Snapshot {
				assert.Nil(t, q.Removed, "removed means nothing for a snapshot query")
			}
		})
	}
}

// loggingOf maps osquery's snapshot/removed to Fleet's logging, as Fleet's
// "Migrate from osquery" guide does.
func loggingOf(q osqueryQuery) string {
	switch {
	case q.Snapshot != nil && *q.Snapshot:
		return "snapshot"
	case q.Removed != nil && !*q.Removed:
		return "differential_ignore_removals"
	}
	return "differential"
}

func TestFleetReportsMatchThePack(t *testing.T) {
	p := loadPack(t)
	data, err := os.ReadFile("fleet/certsight-reports.yml")
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var reports []fleetReport
	require.NoError(t, dec.Decode(&reports))
	require.Len(t, reports, len(p.Queries))
	seen := map[string]bool{}
	for _, r := range reports {
		t.Run(r.Name, func(t *testing.T) {
			require.False(t, seen[r.Name], "report names are unique")
			seen[r.Name] = true
			q, ok := p.Queries[r.Name]
			require.True(t, ok, "report %q is not in certsight.conf", r.Name)
			assert.Equal(t, q.Query, r.Query)
			assert.Equal(t, q.Description, r.Description)
			assert.Equal(t, q.Interval, r.Interval)
			assert.Equal(t, q.Version, r.MinOsqueryVersion)
			assert.Equal(t, loggingOf(q), r.Logging)
			assert.Contains(t, fleetLogging, r.Logging)
			checkPlatforms(t, r.Name, r.Platform, fleetPlatforms)
			assert.Equal(t, q.Platform, r.Platform)
			assert.True(t, r.AutomationsEnabled, "scheduled results must reach the log destination")
		})
	}
}

func TestLegacyFleetPackMatchesThePack(t *testing.T) {
	p := loadPack(t)
	data, err := os.ReadFile("fleet/certsight-pack.yml")
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var queries []legacyQuery
	var packs []legacyPack
	for {
		var doc legacyDoc
		if err := dec.Decode(&doc); err != nil {
			require.ErrorContains(t, err, "EOF")
			break
		}
		require.Equal(t, "v1", doc.APIVersion)
		switch doc.Kind {
		case "query":
			var q legacyQuery
			require.NoError(t, doc.Spec.Decode(&q))
			queries = append(queries, q)
		case "pack":
			var pk legacyPack
			require.NoError(t, doc.Spec.Decode(&pk))
			packs = append(packs, pk)
		default:
			t.Fatalf("unexpected kind %q", doc.Kind)
		}
	}
	require.Len(t, packs, 1)
	require.Len(t, queries, len(p.Queries))
	names := make([]string, 0, len(queries))
	for _, q := range queries {
		src, ok := p.Queries[q.Name]
		require.True(t, ok, q.Name)
		assert.Equal(t, src.Query, q.Query)
		assert.Equal(t, src.Description, q.Description)
		assert.Equal(t, loggingOf(src), q.Logging)
		assert.Equal(t, src.Version, q.MinOsqueryVersion)
		names = append(names, q.Name)
	}
	pk := packs[0]
	require.Len(t, pk.Queries, len(p.Queries))
	assert.NotEmpty(t, pk.Targets.Labels)
	for _, pq := range pk.Queries {
		src, ok := p.Queries[pq.Name]
		require.True(t, ok, pq.Name)
		assert.True(t, slices.Contains(names, pq.Query), "pack query %q must name a saved query", pq.Query)
		assert.Equal(t, src.Interval, pq.Interval)
		assert.Equal(t, src.Snapshot != nil && *src.Snapshot, pq.Snapshot)
		assert.Equal(t, src.Version, pq.Version)
		checkPlatforms(t, pq.Name, pq.Platform, fleetPlatforms)
	}
}

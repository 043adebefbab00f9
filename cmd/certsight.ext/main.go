// Command certsight.ext is the certsight osquery extension.
//
// Started by osquery (`certsight.ext --socket PATH --timeout N --interval N
// [--verbose]`) it registers certsight's tables with the extension manager and
// serves them until osquery asks it to shut down or stops answering pings.
// Started without --socket it is a standalone shell: the same tables as
// virtual tables of an embedded SQLite (`--query "SQL"`, `--json`, `--csv`, or
// an interactive prompt). In both modes --root DIR reads the default stores of
// a file system mounted at DIR (a disk image, a container's root) instead of
// this machine's; the posture config is still this machine's (--config).
//
// Certificates with a negative serial number are invalid but real (Windows
// and .NET have issued them); an inventory must list them, so the binary
// lets crypto/x509 parse them. The edge proxy does not.
//
//go:debug x509negativeserial=1
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/certsight/certsight/tables"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// extensionName is how osquery lists the extension (osquery_extensions).
const extensionName = "certsight"

type options struct {
	socket   string
	timeout  float64 // seconds
	interval float64 // seconds
	verbose  bool
	query    string
	json     bool
	csv      bool
	config   string
	root     string
	addCA    string
	caName   string
	version  bool
	unknown  []string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := pflag.NewFlagSet("certsight.ext", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	// osquery may pass flags newer than this binary; never die on them.
	fs.ParseErrorsAllowlist.UnknownFlags = true
	fs.StringVar(&o.socket, "socket", "", "osquery extension manager socket (extension mode)")
	fs.Float64Var(&o.timeout, "timeout", 3, "seconds to wait for the manager socket to appear")
	fs.Float64Var(&o.interval, "interval", 3, "seconds between pings of the manager; the extension exits when one fails")
	fs.BoolVar(&o.verbose, "verbose", false, "log debug messages")
	fs.StringVarP(&o.query, "query", "q", "", "standalone: run this SQL and print the result")
	fs.BoolVar(&o.json, "json", false, "standalone: print a JSON array of objects with string values (several statements: one array of their result arrays)")
	fs.BoolVar(&o.csv, "csv", false, "standalone: print RFC 4180 CSV (CRLF line ends, a header line)")
	fs.StringVar(&o.config, "config", os.Getenv("CERTSIGHT_CONFIG"), "posture config file (default: the platform's usual place; env CERTSIGHT_CONFIG)")
	fs.StringVar(&o.root, "root", os.Getenv("CERTSIGHT_ROOT"), "read the default stores of the file system mounted at this directory (a disk image, a container's root) in this OS's layout, "+
		"instead of this machine's; paths are reported as seen here (DIR/etc/pki/nssdb); registry stores are skipped; "+
		"WHERE path and --config are not taken under it (env CERTSIGHT_ROOT)")
	fs.StringVar(&o.addCA, "add-ca", "", "add the CA certificate in this PEM file to the posture config (--config), print the API-shaped response, and exit")
	fs.StringVar(&o.caName, "name", "", "with --add-ca: the name of the CA entry")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: certsight.ext --socket PATH [--timeout N] [--interval N] [--verbose]\n"+
			"       certsight.ext [--query SQL] [--json|--csv] [--config FILE] [--root DIR]\n"+
			"       certsight.ext --add-ca ca.pem [--name NAME] [--config FILE]\n\n")
		fs.PrintDefaults()
	}
	o.unknown = unknownFlags(fs, args)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.json && o.csv {
		return o, fmt.Errorf("--json and --csv exclude each other")
	}
	if fs.Changed("socket") && o.socket == "" {
		// An empty --socket= would otherwise start the interactive shell
		// where osquery expects an extension.
		return o, fmt.Errorf("--socket needs the path of the osquery extension manager socket")
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"timeout", o.timeout}, {"interval", o.interval}} {
		if f.v <= 0 || f.v > 24*3600 {
			return o, fmt.Errorf("--%s %g: want seconds, more than 0", f.name, f.v)
		}
	}
	if o.root != "" {
		// A mistyped root would quietly show no stores at all.
		if fi, err := os.Stat(o.root); err != nil || !fi.IsDir() {
			return o, fmt.Errorf("--root %s: not a directory", o.root)
		}
		// Reported paths are absolute whatever the working directory.
		abs, err := filepath.Abs(o.root)
		if err != nil {
			return o, fmt.Errorf("--root %s: %w", o.root, err)
		}
		o.root = abs
	}
	return o, nil
}

// unknownFlags lists the flags in args that fs does not define, so they can
// be logged: pflag skips them silently when told to allow them.
func unknownFlags(fs *pflag.FlagSet, args []string) []string {
	var out []string
	for i, a := range args {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			continue
		}
		// The value of the flag before it (--timeout -1), not a flag.
		if i > 0 && takesValue(fs, args[i-1]) {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "--") {
			if fs.Lookup(name) == nil {
				out = append(out, a)
			}
			continue
		}
		for _, r := range name { // -abc: shorthands
			if fs.ShorthandLookup(string(r)) == nil {
				out = append(out, a)
				break
			}
		}
	}
	return out
}

// takesValue reports whether arg is a defined flag, without "=value", that
// takes the next argument as its value.
func takesValue(fs *pflag.FlagSet, arg string) bool {
	if !strings.HasPrefix(arg, "-") || strings.Contains(arg, "=") {
		return false
	}
	name := strings.TrimLeft(arg, "-")
	f := fs.Lookup(name)
	if f == nil && !strings.HasPrefix(arg, "--") && len(name) == 1 {
		f = fs.ShorthandLookup(name)
	}
	return f != nil && f.NoOptDefVal == ""
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// softMemoryLimit keeps the heap close to what is live (osquery's watchdog
// judges extensions by RSS) at the cost of more GC work on big scans. At 28
// MiB the osquery path over an NSS database of 10,000 certificates, whose
// 10,000 row maps must all exist at once, peaks at 39 MB instead of 43 MB
// for about 15% more CPU (tests/extension BenchmarkPeakRSS10kExtension).
// GOMEMLIMIT, when set, overrides it.
const softMemoryLimit = 28 << 20

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(softMemoryLimit)
	}
	o, err := parseFlags(args, stderr)
	if err == pflag.ErrHelp {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "certsight.ext: %v\n", err)
		return 2
	}
	if o.version {
		fmt.Fprintf(stdout, "certsight.ext %s\n", version)
		return 0
	}
	if o.addCA != "" {
		return runAddCA(o.addCA, o.caName, o.config, stdout, stderr)
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if o.socket != "" {
		log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("extension", extensionName)
		slog.SetDefault(log) // thrift logs through the default logger
		for _, f := range o.unknown {
			log.Warn("ignoring unknown flag", "flag", f)
		}
		if err := serveOsquery(ctx, o, log); err != nil {
			log.Error("extension stopped", "err", err.Error()) // one line: osquery-go's errors carry stacks
			return 1
		}
		return 0
	}

	// Standalone: warnings (unreadable items) go to stderr, without clutter.
	if !o.verbose {
		level = slog.LevelWarn
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level, ReplaceAttr: dropTime}))
	for _, f := range o.unknown {
		log.Warn("ignoring unknown flag", "flag", f)
	}
	return runStandalone(ctx, o, log, stdin, stdout, stderr)
}

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// deps are the tables' dependencies in both modes.
func deps(o options, log *slog.Logger) tables.Deps {
	return tables.Deps{Scanner: newScanner(log, o.root), Logger: log, ConfigPath: o.config}
}

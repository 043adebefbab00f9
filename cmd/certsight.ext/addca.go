package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/certsight/certsight/internal/fsafe"
	"github.com/certsight/certsight/posture"
)

// runAddCA registers the CA in file (PEM) in the posture config under name
// and prints the mtls_certificates API's response envelope. The config is
// replaced atomically under a lock, written through a symlink, and success
// is printed only for an entry read back from the file (posture.AddCA); a
// config that does not decode is left untouched.
func runAddCA(file, name, configPath string, stdout, stderr io.Writer) int {
	if configPath == "" {
		configPath = posture.DefaultConfigPath()
	}
	// The CA file is read like a store file: a FIFO or a device named
	// here is refused instead of blocking, and the size is capped.
	data, err := fsafe.FS{}.ReadFile(context.Background(), file, 1<<20)
	if err != nil {
		fmt.Fprintf(stderr, "certsight.ext: --add-ca: %v\n", err)
		return 1
	}
	resp, existing, err := posture.AddCA(configPath, data, name, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "certsight.ext: --add-ca %s: %v\n", file, err)
		return 1
	}
	env := posture.Envelope{Success: true, Errors: []string{}, Messages: []string{}, Result: resp}
	if existing {
		env.Messages = append(env.Messages, "already registered in "+configPath+"; nothing was written")
	}
	out, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "certsight.ext: --add-ca: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", out)
	return 0
}

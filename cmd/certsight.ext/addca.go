package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/certsight/certsight/posture"
)

// runAddCA registers the CA in file (PEM) in the posture config under name
// and prints the mtls_certificates API's response envelope. The config is
// replaced atomically; a config that does not decode is left untouched.
func runAddCA(file, name, configPath string, stdout, stderr io.Writer) int {
	if configPath == "" {
		configPath = posture.DefaultConfigPath()
	}
	data, err := os.ReadFile(file)
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

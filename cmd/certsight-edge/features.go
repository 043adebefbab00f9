package main

import (
	"github.com/spf13/pflag"
)

// featureOptions are the flags of the edge's operational features: Envoy's
// XFCC preset, metrics, fetched revocation data, live reload.
type featureOptions struct {
	xfcc bool
}

func addFeatureFlags(fs *pflag.FlagSet, o *featureOptions) {
	fs.BoolVar(&o.xfcc, "xfcc", false, "also set Envoy's x-forwarded-client-cert (By, Hash, Cert, Chain, Subject, URI, DNS) for a verified, unrevoked certificate")
}

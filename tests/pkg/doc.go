// Package pkg holds the package test: the .deb built as `make package` does,
// installed with dpkg into a throwaway root and checked against osquery's
// rules for extension binaries. The test runs on Linux only.
package pkg

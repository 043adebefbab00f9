# certsight — build, test, fuzz, bench, lint. `make help` lists the targets.
GO        ?= go
BIN       := bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
GOFLAGS_BUILD := -trimpath -ldflags '$(LDFLAGS)'
FUZZTIME  ?= 20s
PKGS      := ./...

.PHONY: help build test test-unit fuzz bench lint demo clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

build: ## build the binaries into bin/
	@mkdir -p $(BIN)
	@for d in $$(ls -d extension edge/cmd/certsight-edge 2>/dev/null); do \
		name=$$(basename $$d); [ $$d = extension ] && name=certsight.ext; \
		echo "go build $$d -> $(BIN)/$$name"; \
		$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/$$name ./$$d || exit 1; \
	done

test: build ## run every test with the race detector (end-to-end tests use bin/)
	$(GO) test -race -count=1 $(PKGS)

test-unit: ## unit tests only, no race detector (fast loop)
	$(GO) test -count=1 $(PKGS)

fuzz: ## run every fuzz target for FUZZTIME each
	@set -e; for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$t ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

bench: ## run the Go benchmarks
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

lint: ## gofmt check, go vet here and for darwin and windows
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=darwin GOARCH=arm64 $(GO) vet ./...
	GOOS=windows GOARCH=amd64 $(GO) vet ./...

clean: ## remove build output
	rm -rf $(BIN)

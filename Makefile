# certsight — build, test, fuzz, bench, lint. `make help` lists the targets.
GO        ?= go
# pipefail in make test needs bash.
SHELL     := /bin/bash
BIN       := bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
GOFLAGS_BUILD := -trimpath -ldflags '$(LDFLAGS)'
FUZZTIME  ?= 20s
# The default 60 s minimisation of each new input stalls slow targets (RSA keys).
FUZZMINIMIZE ?= 5s
PKGS      := ./...

.PHONY: help build test test-unit test-windows docs fuzz bench bench-edge pgo-edge bench-nss bench-go bench-report lint demo clean cross package

DIST      := dist
PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64
PKG_VERSION ?= $(shell git describe --tags --abbrev=0 2>/dev/null | sed 's/^v//' | grep . || echo 0.1.0)

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

build: ## build the binaries into bin/
	@mkdir -p $(BIN)
	@for d in cmd/*/; do \
		name=$$(basename $$d); \
		echo "go build ./$$d -> $(BIN)/$$name"; \
		$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/$$name ./$$d || exit 1; \
	done

test: build ## run every test with the race detector (end-to-end tests use bin/); ends with every skipped test and why
	@$(GO) build -o $(BIN)/testsummary ./internal/testsummary
	set -o pipefail; CERTSIGHT_BIN_DIR=$(CURDIR)/$(BIN) $(GO) test -race -count=1 -json $(PKGS) 2>&1 | $(BIN)/testsummary

test-windows: ## every test built for windows, run under Wine (installs wine64 + mingw-w64 when missing); crypt32-written stores end to end
	tests/windows/run.sh

test-unit: ## unit tests only, no race detector (fast loop)
	$(GO) test -count=1 $(PKGS)

docs: ## regenerate docs/tables.md from the table definitions (a test fails when it is stale)
	$(GO) run ./internal/tablesdoc -o docs/tables.md

fuzz: ## run every fuzz target for FUZZTIME each
	@set -e; for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$t ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) $$pkg; \
		done; \
	done

bench: ## run the Go benchmarks
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

bench-edge: ## proxy benchmark: certsight-edge vs HAProxy, nginx, Caddy, bare Go; req/s, latency, CPU/request -> docs/benchmarks/data/edge.json (DURATION, WORKERS, ROUNDS, ONLY)
	tests/bench/edge/run.sh

BENCHDATA := docs/benchmarks/data

pgo-edge: ## refresh cmd/certsight-edge/default.pgo from a CPU profile of the proxy benchmark's load
	PROFILE=$$(mktemp -d) && DURATION=$${DURATION:-20s} PROFILE=$$PROFILE tests/bench/edge/run.sh && \
		cp $$PROFILE/cpu.pprof cmd/certsight-edge/default.pgo && rm -rf $$PROFILE

bench-nss: ## NSS scan vs certutil -L at 100..10,000 certificates (certutil alone needs minutes at 10,000; CERTUTIL_MAX to cap) -> docs/benchmarks/data/nss.jsonl
	SIZES="100 300 1000 3000 10000" CERTUTIL_MAX=$${CERTUTIL_MAX:-10000} OUT=$(BENCHDATA)/nss.jsonl tests/bench/nss/run.sh

bench-go: ## the Go benchmarks the report quotes (middleware, rules, extension start) -> docs/benchmarks/data/gobench.txt
	@mkdir -p $(BENCHDATA)
	$(GO) test -run '^$$' -bench 'MiddlewareKeepAlive|ApplyDefault$$|ApplyManagedTransform|EvalDefault|EncodeClientCert' \
		-benchmem -count 5 ./edge ./edge/rules ./cert > $(BENCHDATA)/gobench.txt.tmp
	$(GO) test -run '^$$' -bench StartToRegistered -benchtime 20x ./tests/extension >> $(BENCHDATA)/gobench.txt.tmp
	mv $(BENCHDATA)/gobench.txt.tmp $(BENCHDATA)/gobench.txt

$(BENCHDATA)/edge.json:
	$(MAKE) bench-edge
$(BENCHDATA)/nss.jsonl:
	$(MAKE) bench-nss
$(BENCHDATA)/gobench.txt:
	$(MAKE) bench-go

bench-report: $(BENCHDATA)/edge.json $(BENCHDATA)/nss.jsonl $(BENCHDATA)/gobench.txt ## docs/benchmarks.md and its plots from docs/benchmarks/data (runs the benchmarks whose results are missing)
	$(GO) run ./tests/bench/report -data $(BENCHDATA) -out docs

lint: ## gofmt check, go vet here and for darwin and windows
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=darwin GOARCH=arm64 $(GO) vet ./...
	GOOS=windows GOARCH=amd64 $(GO) vet ./...

cross: ## reproducible builds for every platform into dist/<os>_<arch>/
	@set -e; for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; out=$(DIST)/$${os}_$${arch}; mkdir -p $$out; \
		echo "cross $$os/$$arch -> $$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build $(GOFLAGS_BUILD) -o $$out/certsight.ext$$( [ $$os = windows ] && echo .exe) ./cmd/certsight.ext; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build $(GOFLAGS_BUILD) -o $$out/certsight-edge$$( [ $$os = windows ] && echo .exe) ./cmd/certsight-edge; \
	done
	@cd $(DIST) && sha256sum */* > SHA256SUMS && cat SHA256SUMS

package: cross ## .deb and .rpm for linux/amd64 and linux/arm64 into dist/
	@set -e; for arch in amd64 arm64; do for fmt in deb rpm; do \
		NFPM=$(CURDIR)/$(BIN)/nfpm build/package/package.sh $$fmt $$arch $(PKG_VERSION) $(DIST) $(DIST); \
	done; done
	@ls -l $(DIST)/*.deb $(DIST)/*.rpm

demo: build ## build, then query a throwaway PEM + NSS PKI (written by Go) and this machine's default stores
	$(GO) run ./internal/demo -bin $(BIN)/certsight.ext

clean: ## remove build output
	rm -rf $(BIN) $(DIST)

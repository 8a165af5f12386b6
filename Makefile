# torchgate — build, test and run everything from the repository root.
# `make test` is the command CI runs (.ci/run); `make help` lists the targets.

GO       ?= go
MODULES  := clientmetrics extauthz worker worker/cuda validation
PKGS     := $(MODULES:%=./%/...)
BIN      := bin
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.7.0

.PHONY: help build demo deps fixtures cuda-check gpu-check bench-engine test test-short bench loadtest peer lint fmt vet staticcheck clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build the binaries into bin/
	$(GO) build -o $(BIN)/extauthz ./extauthz/cmd/extauthz
	$(GO) build -o $(BIN)/worker ./worker/cmd/worker

demo: ## the whole stack on this machine (no Docker, no Envoy) and the story a client meets
	$(GO) run ./extauthz/cmd/demo -root .

deps: ## install the Debian packages the tests need (redis-server, PyTorch, OpenBLAS), when missing
	bash scripts/deps.sh

test: deps lint fixtures ## lint, then every test (unit, integration with a real redis-server, PyTorch goldens, fuzz seeds)
	$(GO) test -count=1 -race $(PKGS)

GEN := worker/testdata/gen/torch113

fixtures: $(GEN)/manifest.json ## large PyTorch fixtures (ResNet-18/50), generated with Debian's torch 1.13, not committed

$(GEN)/manifest.json: worker/testdata/gen.py | deps
	cd worker/testdata && /usr/bin/python3 gen.py gen/torch113 --large --resnet50

test-short: ## unit tests only, fast
	$(GO) test -short $(PKGS)

bench-engine: fixtures ## engine vs PyTorch (same archive, batch, threads; medians) and ResNet-50 peak RSS
	worker/bench/run.sh

bench: ## micro-benchmarks (see BENCHMARKS.md for the load generators)
	$(GO) test -run '^$$' -bench . -benchmem -count 5 $(PKGS)

loadtest: build peer ## ext_authz load over real gRPC: warm cache, no cache, local and Redis limits, and the peer (BENCHMARKS.md)
	$(GO) run ./extauthz/cmd/authzload -extauthz $(BIN)/extauthz -runs 3
	$(GO) run ./extauthz/cmd/authzload -extauthz $(BIN)/extauthz -runs 3 -no-cache
	$(GO) run ./extauthz/cmd/authzload -extauthz $(BIN)/extauthz -runs 3 -limits local
	$(GO) run ./extauthz/cmd/authzload -extauthz $(BIN)/extauthz -runs 3 -limits redis
	$(GO) run ./extauthz/cmd/authzload -peer $(BIN)/ratelimit -runs 3

# RATELIMIT is the envoyproxy/ratelimit version the load comparison in BENCHMARKS.md measured.
RATELIMIT := github.com/envoyproxy/ratelimit/src/service_cmd@v1.4.1-0.20260122083618-3fb702589d36

peer: $(BIN)/ratelimit ## build envoyproxy/ratelimit, the rate limit peer of the load comparison, from the Go module proxy

$(BIN)/ratelimit:
	GOBIN=$(abspath $(BIN))/.peer $(GO) install $(RATELIMIT)
	mv $(BIN)/.peer/service_cmd $@ && rmdir $(BIN)/.peer

CUDA_SDK := .cache/cuda-sdk

cuda-check: ## compile-check the GPU build (-tags cuda) against CUDA headers and link stubs, no GPU needed
	eval "$$(../shared/tools/cuda-sdk.sh $(CUDA_SDK))" && export GOCACHE=$$(mktemp -d) && \
	  $(GO) vet -tags cuda ./worker/cuda/... && \
	  $(GO) build -a -tags cuda ./worker/cuda/... && \
	  $(GO) test -c -tags cuda -o /dev/null ./worker/cuda/... ; rc=$$?; rm -rf "$$GOCACHE"; exit $$rc

gpu-check: ## on a lent GPU machine: GPU goldens and benchmark (build the kit here first: scripts/gpu-check.sh --kit)
	bash scripts/gpu-check.sh

lint: fmt vet staticcheck ## gofmt check, go vet, staticcheck

fmt: ## fail when a file is not gofmt-formatted
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi

vet: ## go vet
	$(GO) vet $(PKGS)

staticcheck: ## staticcheck (fetched through the Go module proxy)
	$(GO) run $(STATICCHECK) $(PKGS)

clean: ## remove build outputs
	rm -rf $(BIN)

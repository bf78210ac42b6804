# computemw — see README.md.
GO      ?= go
TESTFLAGS ?= -race -count=1 -timeout 25m
# Test-only Go modules in the repository, each with its own go.mod (so what
# only their tests use stays out of the kit's): the browser tests.
TEST_MODULES := tests/browser

.PHONY: all setup setup-test setup-playground run playground test bench lint template-python-data
.PHONY: test-kubernetes
.PHONY: test-residue
.PHONY: generate-daytona
.PHONY: generate-e2b
.PHONY: generate-graphql

all: test

## setup: install bubblewrap if missing (or say how to)
setup:
	@bash scripts/setup.sh

## setup-test: setup, plus the Node.js ws, socket.io-client, graphql-ws and
## @modelcontextprotocol/sdk clients that the WebSocket, Socket.IO, GraphQL
## and MCP interoperability tests drive and workerd, Cloudflare's Workers
## runtime, that the Cloudflare Worker starter's test runs on (installed into .cache/ with npm), what the playground and its
## browser test use, and the sample python-data template the template tests
## run on (about 40 s, once; a failure leaves those tests to skip, or fail
## under CI)
setup-test: setup setup-playground
	@bash scripts/setup-node-ws.sh
	@bash scripts/setup-node-socketio.sh
	@bash scripts/setup-node-graphql.sh
	@bash scripts/setup-node-workerd.sh
	@bash scripts/setup-node-mcp.sh
	@bash scripts/build-template.sh python-data || echo "setup-test: the python-data template could not be built; its tests will skip (and fail under CI=true)" >&2

## template-python-data: build the sample sandbox template (python3, numpy
## and matplotlib from Debian packages, unpacked into
## .cache/templates/python-data; a template without matplotlib is rebuilt)
template-python-data:
	@bash scripts/build-template.sh python-data

## setup-playground: xterm.js for the playground's terminal and Swagger UI
## for its API page (npm, into .cache/), and Chromium for its browser test
## in tests/browser (apt-get, when missing)
setup-playground:
	@bash scripts/setup-node-playground.sh
	@bash scripts/setup-node-swagger-ui.sh

## run: start the net/http example on 127.0.0.1:$${PORT:-8080} with the local provider
run: setup
	$(GO) run ./examples/nethttp

## playground: the playground page on http://127.0.0.1:$${PORT:-8080}/
playground: setup setup-playground
	$(GO) run ./examples/playground

## test: vet (also for macOS, where the module must build, and for
## js/wasm, the Cloudflare Worker's bridge and starter), then every test
## with the race detector; then the same in each test-only module; then
## test-kubernetes
test: setup-test
	$(GO) vet ./...
	GOOS=darwin $(GO) build ./...
	GOOS=darwin $(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./transports/cfworker
	GOOS=js GOARCH=wasm $(GO) build -o /dev/null ./examples/cfworker
	$(GO) vet -tags daytona ./examples/cfworker
	$(GO) test $(TESTFLAGS) ./...
	@set -e; for m in $(TEST_MODULES); do \
		echo "cd $$m && $(GO) vet ./... && $(GO) test $(TESTFLAGS) ./..."; \
		(cd $$m && $(GO) vet ./... && $(GO) test $(TESTFLAGS) ./...); \
	done
	@$(MAKE) --no-print-directory test-kubernetes

## test-kubernetes: the Kubernetes provider against a real API server in
## the test process (tests/kubernetes, a module of its own: the
## apiextensions-apiserver test server on embedded etcd, agent-sandbox's
## CRDs). Without the race detector: the provider's code runs under it in
## its own package's tests, and instrumenting the API server and etcd would
## multiply their compile time
test-kubernetes:
	cd tests/kubernetes && $(GO) vet ./... && $(GO) test -count=1 -timeout 15m ./...

## test-residue: a thousand pairs of creates on a recycling warm pool of
## one, each an owner's sandbox filled with residue, then reset and handed
## to another owner, who must find none of it
test-residue:
	$(GO) test -race -count=1 -timeout 60m -run '^TestRecycledSandboxHoldsNoResidue$$' ./providers/local/ -residue.pairs=1000

## bench: the performance targets and the time-to-interactive, burst,
## throughput, session, memory and WebSocket figures, each against a
## baseline measured in the same run on a clean host (internal/benchreport),
## then the Go benchmarks. GOJUDGE=/path/to/go-judge (as root) adds the
## comparison with go-judge; without it, that comparison is skipped
GOJUDGE ?=
bench: setup
	$(GO) run ./internal/benchreport -gojudge="$(GOJUDGE)"
	$(GO) test -run='^$$' -bench=. -benchmem -count=1 ./...

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@set -e; for m in $(TEST_MODULES) tests/kubernetes; do (cd $$m && $(GO) vet ./...); done

## generate-daytona: regenerate the Daytona provider's API clients from the
## vendor specs in providers/daytona/internal/spec (oapi-codegen through
## go run, so nothing is installed); fails when the committed code drifts
OAPI_CODEGEN ?= $(GO) run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2
generate-daytona:
	$(GO) run ./providers/daytona/internal/gen
	$(OAPI_CODEGEN) -config providers/daytona/internal/apiclient/oapi-codegen.yaml providers/daytona/internal/spec/api-openapi.yaml
	$(OAPI_CODEGEN) -config providers/daytona/internal/toolboxclient/oapi-codegen.yaml providers/daytona/internal/spec/toolbox-openapi3.json
	@git diff --exit-code -- providers/daytona/internal || { echo "generated Daytona code differs from the committed code"; exit 1; }

## generate-e2b: regenerate the E2B provider's envd types and Connect
## clients from its protos (buf, protoc-gen-go and protoc-gen-connect-go
## run with go run; no protoc needed)
generate-e2b:
	cd providers/e2b/internal/envd && $(GO) run github.com/bufbuild/buf/cmd/buf@v1.75.0 generate

## generate-graphql: regenerate the GraphQL transport's code
## (transports/graphql/internal/generated) from its schema with gqlgen
generate-graphql:
	cd transports/graphql && $(GO) run github.com/99designs/gqlgen generate --config gqlgen.yml

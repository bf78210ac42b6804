# computemw — see README.md.
GO      ?= go
TESTFLAGS ?= -race -count=1 -timeout 25m

.PHONY: all setup setup-test run test bench lint template-python-data

all: test

## setup: install bubblewrap if missing (or say how to)
setup:
	@bash scripts/setup.sh

## setup-test: setup, plus the Node.js ws client that the WebSocket
## interoperability test drives (installed into .cache/ with npm), and the
## sample python-data template the template tests run on (about 40 s, once;
## a failure leaves those tests to skip, or fail under CI)
setup-test: setup
	@bash scripts/setup-node-ws.sh
	@bash scripts/build-template.sh python-data || echo "setup-test: the python-data template could not be built; its tests will skip (and fail under CI=true)" >&2

## template-python-data: build the sample sandbox template (python3 and
## numpy from Debian packages, unpacked into .cache/templates/python-data)
template-python-data:
	@bash scripts/build-template.sh python-data

## run: start the net/http example on 127.0.0.1:$${PORT:-8080} with the local provider
run: setup
	$(GO) run ./examples/nethttp

## test: vet (also for macOS, where the module must build), then every
## test with the race detector
test: setup-test
	$(GO) vet ./...
	GOOS=darwin $(GO) build ./...
	GOOS=darwin $(GO) vet ./...
	$(GO) test $(TESTFLAGS) ./...

## bench: time-to-interactive and HTTP ratios, then the Go benchmarks
bench: setup
	$(GO) run ./internal/benchreport
	$(GO) test -run='^$$' -bench=. -benchmem -count=1 ./...

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

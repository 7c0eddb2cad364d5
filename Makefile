# pysup: see README.md. `make test` installs what the tests need (Debian,
# as root) and runs every test; `make demo` runs a small app under pysup.

GO      ?= go
BIN     ?= bin/pysup
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
FUZZTIME ?= 20s
# pysup speaks HTTP/1.1 only, as server and client: kubelet probes,
# Prometheus scrapes, the Pushgateway, remote write and the EndpointSlice
# watch need nothing more, and net/http's bundled HTTP/2 is half a megabyte
# of binary, which is resident memory of every pysup (README, Figures).
# Exported so that the tests, the pysup they build and the benchmarks all
# run what ships.
export GOFLAGS ?= -tags=nethttpomithttp2

.PHONY: all build deps test test-go lint demo bench fuzz clean docs

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/pysup

# Installs Debian packages the tests use (python3-zmq, gunicorn, uwsgi,
# prometheus, ...; needs root on Debian/Ubuntu, elsewhere it says what is
# missing and the tests that need it skip), then builds a real
# kube-apiserver, etcd and kubectl for the discovery and manifest tests
# (about 7 minutes the first time, skipped when tools/kube/bin has them).
deps:
	scripts/install-deps.sh
	tools/kube/build.sh

lint:
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

test: deps lint test-go

test-go:
	$(GO) test -count=1 -timeout 60m ./...

demo: build
	scripts/demo.sh

bench: build
	bench/run.sh

fuzz:
	scripts/fuzz.sh $(FUZZTIME)

clean:
	rm -rf bin

# Rewrites the README's configuration reference from the Config struct.
docs:
	@$(GO) run ./cmd/pysup help --markdown > .ref.tmp
	@awk 'BEGIN{r=0} /<!-- config-reference:begin/{print; while((getline l < ".ref.tmp")>0) print l; r=1; next} /<!-- config-reference:end/{r=0} !r' README.md > README.md.tmp && mv README.md.tmp README.md && rm -f .ref.tmp

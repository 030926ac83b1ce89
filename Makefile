# Ward — see README.md.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
FUZZTIME ?= 10s

.PHONY: build run test race fuzz bench screenshots vet fmt clean

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ward ./cmd/ward

# Starts Ward on the embedded SQLite default (./data) and prints the console
# setup link on first start.
run: build
	./bin/ward serve

# Installs PostgreSQL, Chromium and npm if missing (apt-get, as root), starts
# a throwaway cluster, and runs every test on SQLite and Postgres, the browser
# tests in headless Chromium (npm fetches keycloak-js for its test).
test:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || \
	  [ "$${WARD_SKIP_BROWSER:-}" = 1 ] || { \
	  if [ "$$(id -u)" -ne 0 ]; then \
	    echo "make test: Chromium is not installed. Install it with 'sudo apt-get install -y chromium'," >&2; \
	    echo "or set WARD_SKIP_BROWSER=1 to skip the browser tests locally." >&2; exit 1; \
	  fi; \
	  echo "make test: installing Chromium with apt-get" >&2; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@command -v npm >/dev/null 2>&1 || [ -n "$${WARD_KEYCLOAK_JS:-}" ] || [ "$${WARD_SKIP_BROWSER:-}" = 1 ] || { \
	  if [ "$$(id -u)" -ne 0 ]; then \
	    echo "make test: npm is not installed (the keycloak-js test fetches Keycloak's adapter with it)." >&2; \
	    echo "Install it with 'sudo apt-get install -y npm', or set WARD_SKIP_BROWSER=1 to skip the browser tests locally." >&2; exit 1; \
	  fi; \
	  echo "make test: installing npm with apt-get" >&2; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; }
	.ci/with-postgres $(GO) test -count=1 -timeout 20m ./...

# Every test under the race detector, on SQLite and Postgres; cmd/ward's
# tests then build the ward binary with -race too and fail on its reports.
race:
	.ci/with-postgres $(GO) test -race -count=1 -timeout 60m ./...

# Every fuzz target for FUZZTIME each (.ci/fuzz finds them; --list shows).
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) .ci/fuzz

# Benchmarks: Go benchmarks plus the HTTP load harness, on SQLite and
# Postgres. Results go in docs/benchmarks.md by hand, with machine and date.
bench: build
	.ci/with-postgres $(GO) test -run '^$$' -bench . -benchmem ./attributes/... ./oauth/...
	$(GO) test -run '^$$' -bench ConsolePage -benchtime 3s ./cmd/ward
	.ci/with-postgres $(GO) run ./cmd/wardbench -ward bin/ward

# Retakes the console screenshots in docs/console/ (headless Chromium).
screenshots:
	WARD_SCREENSHOTS=1 $(GO) test -count=1 -run 'TestConsoleBrowser' ./cmd/ward

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin

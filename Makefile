# Ward — see README.md.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: build run test bench vet fmt clean

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ward ./cmd/ward

# Starts Ward on the embedded SQLite default (./data) and prints the console
# setup link on first start.
run: build
	./bin/ward serve

# Installs PostgreSQL if missing (apt-get, as root), starts a throwaway
# cluster, and runs every test on SQLite and Postgres.
test:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	.ci/with-postgres $(GO) test -count=1 -timeout 20m ./...

# Benchmarks: Go benchmarks plus the HTTP load harness, on SQLite and
# Postgres. Results go in docs/benchmarks.md by hand, with machine and date.
bench: build
	.ci/with-postgres $(GO) test -run '^$$' -bench . -benchmem ./attributes/... ./oauth/...
	.ci/with-postgres $(GO) run ./cmd/wardbench -ward bin/ward

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin

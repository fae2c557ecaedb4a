# Chronik developer targets. `make test` is the same as ./scripts/test.sh.
export GOFLAGS := -buildvcs=false
FUZZTIME ?= 10s

.PHONY: build test compat bench gobench fuzz vet fmt clean

build:
	go build -o bin/chronik ./cmd/chronik

test:
	./scripts/test.sh

compat: build
	CHRONIK_BIN=$(CURDIR)/bin/chronik ./scripts/compat.sh

# Chronik against franz-go's kfake, same load, ratios per row (docs/benchmarks.md);
# gobench runs the Go microbenchmarks.
bench:
	./scripts/bench.sh

gobench:
	go test -run='^$$' -bench=. -benchmem ./...

# Runs every fuzz target for FUZZTIME each (make fuzz FUZZTIME=1m).
fuzz:
	@grep -r --include='*_test.go' -e '^func Fuzz' . | grep -v -e /node_modules/ -e '/\.' | \
	  sed -E 's#^(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*).*#\1 \2#' | sort -u | \
	  while read -r dir name; do \
	    echo "== $$name ($$dir)"; \
	    go test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) $$dir || exit 1; \
	  done

vet:
	go vet ./...

fmt:
	gofmt -w $$(find . -name '*.go' -not -path './.git/*' -not -path '*/node_modules/*')

clean:
	rm -rf bin

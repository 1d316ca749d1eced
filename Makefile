# sealbatch — see README.md. Every target installs what it needs (idempotently) first.
SWIFT ?= swift
SWIFT_BUILD_FLAGS ?=
export PATH := /opt/swift/usr/bin:$(PATH)

.PHONY: deps build release demo test bench corpus fuzz clean

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build $(SWIFT_BUILD_FLAGS)

release: deps
	$(SWIFT) build -c release $(SWIFT_BUILD_FLAGS)

demo: deps
	@bash scripts/demo.sh

test: deps
	@bash scripts/test.sh

bench: deps
	@bash scripts/bench.sh

# The public corpus sealed by us and by pyHanko, judged by pyHanko and pdfsig: one row per file.
corpus: deps
	@bash scripts/corpus.sh

fuzz: deps
	@bash scripts/fuzz.sh

clean:
	rm -rf .build demo-out bench-results.json

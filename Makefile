# sealbatch — see README.md. Every target installs what it needs (idempotently) first.
SWIFT ?= swift
SWIFT_BUILD_FLAGS ?=
export PATH := /opt/swift/usr/bin:$(PATH)

.PHONY: deps build release release-static demo test bench corpus fuzz clean install uninstall deb man

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

# Installing like a system tool (docs/guide/01-install.md): PREFIX (default /usr/local), DESTDIR (staging).
# BIN=PATH installs that binary instead of building a release one.
PREFIX ?= /usr/local
DESTDIR ?=
BIN ?=

install: $(if $(BIN),,release)
	@PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" BIN="$(BIN)" bash scripts/install.sh

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/sealbatch $(DESTDIR)$(PREFIX)/share/man/man1/sealbatch*.1.gz \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/sealbatch $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_sealbatch \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/sealbatch.fish
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/sealbatch
	@echo "left in place: the unit, sysusers.d and tmpfiles.d entries, the sealbatch user and its folders"

# Manual pages into man/ (swift-argument-parser's generate-manual, from the built program).
man: $(if $(BIN),,build)
	@bash scripts/manpages.sh $(or $(BIN),.build/debug/sealbatch) man

# sealbatch_<version>_<arch>.deb (dpkg-deb) from a release build with the Swift runtime linked in.
deb: $(if $(BIN),,release-static)
	@BIN="$(BIN)" bash scripts/deb.sh

release-static: deps
	$(SWIFT) build -c release --static-swift-stdlib $(SWIFT_BUILD_FLAGS)

clean:
	rm -rf .build demo-out bench-results.json man sealbatch_*.deb

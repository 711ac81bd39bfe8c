# shardstack: build, test, install. `make help` lists the targets.

PREFIX ?= /usr/local
BINDIR  = $(DESTDIR)$(PREFIX)/bin
MANDIR  = $(DESTDIR)$(PREFIX)/share/man/man1
CARGO  ?= cargo
TOOLS   = junit-merge shard-plan stack-run cov-merge wait-for stack-report

.PHONY: help setup build check test lint fuzz fuzz-smoke man install uninstall images static wheel dist demo

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

build: ## Build the release binaries into target/release
	$(CARGO) build --release --locked

setup: ## Install the system packages and Python tools the tests need (idempotent)
	scripts/setup

# The tests that need Docker (and root, for `make images`). They run under
# Compose v2 (what CI runners have) first, then again under v1 (Debian's
# docker-compose) where it is installed; `make check` leaves them out.
DOCKER_TESTS = hygiene:: images:: stack_run:: signals:: batches:: sessions:: scale:: seeding:: pipeline:: example:: flaky::stack_run

# make check also leaves out the install tests: they need the release builds of make wheel static.
# github_example:: needs Docker too; its action collects with `docker compose`
# (v2) whatever SHARDSTACK_COMPOSE says, so make test runs it once (test names
# are matched as substrings: `example::` matches it, hence the --skip under v1).
check: ## Quick: fmt, clippy and every test that needs neither root, Docker nor a release build
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) test --workspace --locked -- $(addprefix --skip ,$(DOCKER_TESTS) install:: github_example::)

# The install tests (tests/install.rs) install the wheel and unpack the
# tarball that these build, which they skip when up to date.
test: images wheel static ## Run every test: unit, CLI, integration against real services, installs
	SHARDSTACK_COMPOSE="docker compose" $(CARGO) test --workspace --locked
	@if docker-compose version 2>/dev/null | grep -q 'version 1\.'; then \
	    echo "make test: the Docker tests again under $$(docker-compose version --short) (v1)"; \
	    SHARDSTACK_COMPOSE=docker-compose $(CARGO) test --locked --test tests -- $(DOCKER_TESTS) \
	        --skip github_example::; \
	else \
	    echo "make test: no docker-compose v1 here; the Docker tests ran under v2 only"; \
	fi

lint: setup ## Check formatting and clippy (warnings as errors), the CI files and every shell script
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	scripts/lint

# Fuzzing the parsers in shared/ (fuzz/, scripts/fuzz): each target runs for
# FUZZ_SECONDS, one after the other, with the nightly toolchain and cargo-fuzz
# (make setup installs it). A crash's input is saved in fuzz/artifacts/.
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 4

fuzz: setup ## Fuzz every parser in shared/ for FUZZ_SECONDS (60) each; crashes in fuzz/artifacts/
	scripts/fuzz $(FUZZ_SECONDS)

fuzz-smoke: setup ## A few seconds of every fuzz target, as CI runs them
	scripts/fuzz $(FUZZ_SMOKE_SECONDS)

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
ARCH    := $(shell uname -m)
# What the release binaries are built from: a change rebuilds the wheel and the tarball.
SOURCES := Cargo.toml Cargo.lock $(shell find bins shared -name '*.rs' -o -name Cargo.toml)

# The wheel's and the tarball's binaries: glibc linked statically (no glibc version
# required, any x86_64 Linux runs them; see bench/wait-for/README.md for name lookup).
STATIC_FLAGS = -C target-feature=+crt-static -C strip=symbols
GNU_TARGET   = $(ARCH)-unknown-linux-gnu
# The tarball uses musl when its target is installed, else the same glibc build as the wheel.
STATIC_TARGET ?= $(shell rustup target list --installed 2>/dev/null | grep -x $(ARCH)-unknown-linux-musl || echo $(GNU_TARGET))

WHEEL   = dist/shardstack-$(VERSION)-py3-none-manylinux1_$(ARCH).manylinux_2_5_$(ARCH).whl
TARBALL = dist/shardstack-$(VERSION)-$(ARCH)-linux.tar.gz

wheel: $(WHEEL) ## Build dist/shardstack-VERSION-*.whl: the six tools and man pages, for pip/uv/pipx

# One cargo build of the six binaries (in parallel); maturin then finds them fresh.
$(WHEEL): $(SOURCES) pyproject.toml README.md LICENSE man/*.1 packaging/wheel/scripts/* packaging/pytest/*.py
	@command -v maturin >/dev/null || { echo "no maturin: run make setup" >&2; exit 2; }
	rm -f dist/shardstack-*.whl
	RUSTFLAGS="$(STATIC_FLAGS)" $(CARGO) build --release --locked --target $(GNU_TARGET)
	RUSTFLAGS="$(STATIC_FLAGS)" maturin build --release --locked --target $(GNU_TARGET) --out dist
	@test -e $@ || { echo "maturin built no $@" >&2; exit 1; }
	@touch $@
	@ls -l $@

# The tarball is a prefix: bin/ (with the wait-for-it.sh link), share/man/man1, share/doc/shardstack;
# `tar xz -C ~/.local --strip-components=1` installs it.
static: $(TARBALL) ## Build the six tools as static binaries: dist/shardstack-VERSION-ARCH-linux.tar.gz

$(TARBALL): $(SOURCES) README.md LICENSE man/*.1
	RUSTFLAGS="$(STATIC_FLAGS)" $(CARGO) build --release --locked --target $(STATIC_TARGET)
	rm -rf target/dist && mkdir -p $(addprefix target/dist/shardstack-$(VERSION)/,bin share/man/man1 share/doc/shardstack)
	for tool in $(TOOLS); do install -m 755 target/$(STATIC_TARGET)/release/$$tool target/dist/shardstack-$(VERSION)/bin/; done
	ln -s wait-for target/dist/shardstack-$(VERSION)/bin/wait-for-it.sh
	install -m 644 man/*.1 target/dist/shardstack-$(VERSION)/share/man/man1/
	install -m 644 README.md LICENSE target/dist/shardstack-$(VERSION)/share/doc/shardstack/
	mkdir -p dist && rm -f dist/shardstack-*-linux.tar.gz
	tar -C target/dist --owner=0 --group=0 --sort=name -czf $@ shardstack-$(VERSION)
	@ls -l $@

dist: wheel static ## Both: the wheel and the tarball in dist/

man: ## Regenerate man/*.1 from the clap commands
	SHARDSTACK_UPDATE_MAN=1 $(CARGO) test --locked --test tests man::

install: build ## Install the binaries and man pages under PREFIX (wait-for also as wait-for-it.sh)
	install -d $(BINDIR) $(MANDIR)
	for tool in $(TOOLS); do install -m 755 target/release/$$tool $(BINDIR)/$$tool; done
	ln -sf wait-for $(BINDIR)/wait-for-it.sh
	install -m 644 man/*.1 $(MANDIR)

uninstall: ## Remove what install put under PREFIX
	for tool in $(TOOLS) wait-for-it.sh; do rm -f $(BINDIR)/$$tool; done
	for tool in $(TOOLS); do rm -f $(MANDIR)/$$tool.1; done

images: setup ## Build the example's container images from Debian packages (no registry; root)
	images/build

# The demo's pipeline reads like a project's own Makefile: examples/demo/Makefile.
demo: build images ## The example's suite through the whole pipeline; outputs in .shardstack/demo/
	$(MAKE) --no-print-directory -f examples/demo/Makefile

# shardstack: build, test, install. `make help` lists the targets.

PREFIX ?= /usr/local
BINDIR  = $(DESTDIR)$(PREFIX)/bin
MANDIR  = $(DESTDIR)$(PREFIX)/share/man/man1
CARGO  ?= cargo
TOOLS   = junit-merge shard-plan stack-run cov-merge wait-for stack-report

.PHONY: help setup build check test lint man install uninstall images static demo

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

build: ## Build the release binaries into target/release
	$(CARGO) build --release --locked

setup: ## Install the system packages and Python tools the tests need (idempotent)
	scripts/setup

# The tests that need Docker (and root, for `make images`). They run under
# Compose v2 (what CI runners have) first, then again under v1 (Debian's
# docker-compose) where it is installed; `make check` leaves them out.
DOCKER_TESTS = stack_run:: pipeline:: example:: flaky::stack_run

check: ## Quick: fmt, clippy and every test that needs neither root nor Docker
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) test --workspace --locked -- $(addprefix --skip ,$(DOCKER_TESTS))

test: images ## Run every test: unit, CLI, and integration against real services
	SHARDSTACK_COMPOSE="docker compose" $(CARGO) test --workspace --locked
	@if docker-compose version 2>/dev/null | grep -q 'version 1\.'; then \
	    echo "make test: the Docker tests again under $$(docker-compose version --short) (v1)"; \
	    SHARDSTACK_COMPOSE=docker-compose $(CARGO) test --locked --test tests -- $(DOCKER_TESTS); \
	else \
	    echo "make test: no docker-compose v1 here; the Docker tests ran under v2 only"; \
	fi

lint: setup ## Check formatting and clippy (warnings as errors), the CI files and every shell script
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	scripts/lint

# musl when its target is installed; else glibc linked statically (see bench/wait-for/README.md).
STATIC_TARGET ?= $(shell rustup target list --installed 2>/dev/null | grep -x x86_64-unknown-linux-musl || echo x86_64-unknown-linux-gnu)

static: ## Build wait-for as one static binary to copy into any image
	RUSTFLAGS="-C target-feature=+crt-static -C strip=symbols" $(CARGO) build --release --locked --target $(STATIC_TARGET) --bin wait-for
	@ls -l target/$(STATIC_TARGET)/release/wait-for

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

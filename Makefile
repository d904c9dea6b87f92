# Build, lint and test entry points for notary-hsm. `make test` is what CI runs: it installs
# the system packages (scripts/install-deps.sh), installs node_modules when package-lock.json
# changed, builds dist/, lints, type-checks and runs the whole jest suite (unit tests and the
# integration tests that start notary-server, the notary CLI and SoftHSM2 on 127.0.0.1).
# Every target works without stdin and can run again on the same checkout.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

NPM_STAMP := node_modules/.stamp

.PHONY: deps build lint typecheck test demo run bench clean

# System packages first (native addons need make/g++/python3), then node_modules.
deps:
	bash scripts/install-deps.sh
	$(MAKE) --no-print-directory $(NPM_STAMP)

# npm ci only when node_modules is missing or older than package-lock.json. "Older" is judged
# by node_modules/.package-lock.json, which npm rewrites on every install (the directory's own
# mtime moves whenever anything writes into it, so it says little).
$(NPM_STAMP): package-lock.json
	if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; \
	then npm ci --no-audit --no-fund; fi
	touch $(NPM_STAMP)

build: $(NPM_STAMP)
	npm run --silent build

lint: $(NPM_STAMP)
	npx eslint --max-warnings 0 .
	npx prettier --check --log-level warn .

typecheck: $(NPM_STAMP)
	npx tsc --noEmit -p tsconfig.json

test: deps build lint typecheck
	npx jest --ci

demo:
	bash scripts/demo.sh

# The daemon on its configuration (/etc/notary-hsm/daemon.yaml) or, without one, the
# embedded default under ./var/ (token, keys and an admin client token shown once).
run: deps build
	./bin/notary-hsmd serve

# Benchmarks: measured, not asserted (bench/README.md). bench/ compiles with src/ into
# dist/bench (tsconfig.bench.json); BENCH_ARGS passes options, e.g. '--seconds 10 --json'.
BENCH_ARGS ?=
bench: build
	npx tsc -p tsconfig.bench.json
	node dist/bench/bench/pkcs11.js $(BENCH_ARGS)
	node dist/bench/bench/daemon.js $(BENCH_DAEMON_ARGS)
	node dist/bench/bench/concurrent.js $(BENCH_CONCURRENT_ARGS)
	node dist/bench/bench/peer.js $(BENCH_PEER_ARGS)
	node dist/bench/bench/cli.js $(BENCH_CLI_ARGS)
	node dist/bench/bench/checkpoint.js $(BENCH_CHECKPOINT_ARGS)

clean:
	rm -rf dist coverage

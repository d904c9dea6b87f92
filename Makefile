# Build, lint and test entry points for notary-hsm. `make test` is what CI runs: it installs
# the system packages (scripts/install-deps.sh), installs node_modules when package-lock.json
# changed, builds dist/, lints, type-checks and runs the whole jest suite (unit tests and the
# integration tests that start notary-server, the notary CLI and SoftHSM2 on 127.0.0.1).
# Every target works without stdin and can run again on the same checkout.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

NPM_STAMP := node_modules/.stamp

.PHONY: deps build lint typecheck test demo run bench clean install

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
	node dist/bench/bench/notify.js

# Installs under $(DESTDIR)$(PREFIX): the program in lib/notary-hsm (bin, dist, hsm-profiles
# and the production node_modules copied from this checkout's — no network, native addons as
# built here), the two commands in bin, the systemd units, sysusers.d and tmpfiles.d files,
# and /etc/notary-hsm/daemon.yaml.example. The service's ExecStart names $(PREFIX).
PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR := $(DESTDIR)$(PREFIX)/lib/notary-hsm
install: build
	rm -rf '$(LIBDIR)'
	install -d '$(LIBDIR)/node_modules' '$(DESTDIR)$(PREFIX)/bin' \
	  '$(DESTDIR)$(PREFIX)/lib/systemd/system' '$(DESTDIR)$(PREFIX)/lib/sysusers.d' \
	  '$(DESTDIR)$(PREFIX)/lib/tmpfiles.d' '$(DESTDIR)/etc/notary-hsm'
	cp -R bin dist hsm-profiles package.json README.md LICENSE '$(LIBDIR)/'
	rm -rf '$(LIBDIR)/dist/test' '$(LIBDIR)/dist/bench'
	npm ls --omit=dev --all --parseable 2>/dev/null | sed -n 's|^$(CURDIR)/node_modules/||p' | sort -u | \
	  while read -r m; do install -d "$(LIBDIR)/node_modules/$$(dirname "$$m")"; \
	    cp -R "node_modules/$$m" "$(LIBDIR)/node_modules/$$m"; done
	ln -sfn ../lib/notary-hsm/bin/notary-hsm '$(DESTDIR)$(PREFIX)/bin/notary-hsm'
	ln -sfn ../lib/notary-hsm/bin/notary-hsmd '$(DESTDIR)$(PREFIX)/bin/notary-hsmd'
	sed 's|/usr/lib/notary-hsm/|$(PREFIX)/lib/notary-hsm/|g' systemd/notary-hsmd.service \
	  > '$(DESTDIR)$(PREFIX)/lib/systemd/system/notary-hsmd.service'
	install -m 0644 systemd/notary-hsmd.socket '$(DESTDIR)$(PREFIX)/lib/systemd/system/'
	install -m 0644 systemd/notary-hsm.sysusers.conf '$(DESTDIR)$(PREFIX)/lib/sysusers.d/notary-hsm.conf'
	install -m 0644 systemd/notary-hsm.tmpfiles.conf '$(DESTDIR)$(PREFIX)/lib/tmpfiles.d/notary-hsm.conf'
	install -m 0644 systemd/daemon.yaml.example '$(DESTDIR)/etc/notary-hsm/daemon.yaml.example'

clean:
	rm -rf dist coverage

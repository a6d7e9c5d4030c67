# dockyard development tasks.   `make help` lists them.
#
#   make demo    run the demo on the embedded sample image: offline commands, then push/pull/imagetools
#                against a registry on 127.0.0.1 (installs Debian's docker-registry when it can)
#   make test    install everything (Debian packages included) and run lint + type check + tests
#
# Variables you may override:  PYTHON (interpreter used to create .venv), VENV,
# PYTEST_ARGS (default: -n auto --dist loadgroup -ra; `make test PYTEST_ARGS=` runs serially).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.NOTPARALLEL:
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.dockyard-installed
PYTEST_ARGS ?= -n auto --dist loadgroup -ra
# Debian packages the test suite needs (the interop tests and the Debian fixtures).
DEB_PACKAGES ?= skopeo umoci debootstrap podman docker-registry debian-archive-keyring gpgv golang-go runc crun golang-github-containers-common qemu-user-static binfmt-support git
DEB_TOOLS ?= skopeo umoci debootstrap podman docker-registry go runc crun qemu-aarch64-static git

# $(call apt_ensure,PACKAGES,TOOLS): install the Debian PACKAGES that are not installed yet.
# Fast no-op when all are present: `apt-get update` only runs when something is missing.
# Uses sudo when not root. On a system without dpkg it only checks that TOOLS are on PATH.
define apt_ensure
if ! command -v dpkg-query >/dev/null 2>&1; then \
  for t in $(2); do \
    command -v $$t >/dev/null 2>&1 || PATH="$$PATH:/usr/sbin:/sbin" command -v $$t >/dev/null 2>&1 \
      || { echo "error: $$t is missing and this is not a Debian system: install it by hand" >&2; exit 1; }; \
  done; \
else \
  missing=""; \
  for p in $(1); do \
    [ "$$(dpkg-query -W -f='$${db:Status-Status}' $$p 2>/dev/null)" = installed ] || missing="$$missing $$p"; \
  done; \
  if [ -n "$$missing" ]; then \
    if [ "$$(id -u)" -eq 0 ]; then sudo=""; \
    elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; \
    else echo "error: need root (or sudo) to install Debian packages:$$missing" >&2; exit 1; fi; \
    echo ">> installing Debian packages:$$missing"; \
    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q; \
    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
  fi; \
fi
endef

.PHONY: help venv bytecode deps test lint demo bench clean distclean clean-test-cache

help:
	@echo "make demo              the demo on the embedded sample image, then against a registry on 127.0.0.1"
	@echo "make test              deps + venv, then ruff, mypy --strict and pytest ($(PYTEST_ARGS))"
	@echo "make venv              create $(VENV) and pip install -e '.[test]'"
	@echo "make deps              install the Debian packages the tests need: $(DEB_PACKAGES)"
	@echo "make lint              ruff check + mypy --strict"
	@echo "make bench             run bench/run.sh, or else every bench/*.py"
	@echo "make clean             remove build and tool caches;  distclean: also $(VENV)"
	@echo "make clean-test-cache  remove the cached Debian test fixtures"

# ------------------------------------------------------------------------------ set-up

venv: $(STAMP)

# Reinstalls when pyproject.toml changes; recreates a missing or broken venv.
$(STAMP): pyproject.toml
	@if ! { [ -x $(VPY) ] && $(VPY) -m pip --version >/dev/null 2>&1; }; then \
	  py=""; \
	  for c in $(PYTHON) python3 python3.13 python3.12 python3.11; do \
	    if command -v $$c >/dev/null 2>&1 && $$c -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then \
	      py=$$c; break; \
	    fi; \
	  done; \
	  [ -n "$$py" ] || { echo "error: dockyard needs Python >= 3.11 (set PYTHON=...)" >&2; exit 1; }; \
	  if ! $$py -c 'import ensurepip' >/dev/null 2>&1; then \
	    echo ">> $$py has no ensurepip/venv support: installing python3-venv"; \
	    $(call apt_ensure,python3-venv,); \
	  fi; \
	  rm -rf $(VENV); \
	  echo ">> creating $(VENV) with $$py ($$($$py -c 'import sys; print(sys.version.split()[0])'))"; \
	  $$py -m venv $(VENV); \
	fi
	$(VPY) -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $@

# Byte-compile dockyard so each command starts from cached bytecode even where PYTHONDONTWRITEBYTECODE is set
# (an editable install is otherwise compiled afresh by every run: ~40 ms of a 120 ms start-up).
bytecode: $(STAMP)
	@$(VPY) -m compileall -q src/dockyard >/dev/null

deps:
	@$(call apt_ensure,$(DEB_PACKAGES),$(DEB_TOOLS))
	@for t in $(DEB_TOOLS); do \
	  PATH="$$PATH:/usr/sbin:/sbin" command -v $$t >/dev/null 2>&1 || { echo "error: $$t not found after install" >&2; exit 1; }; \
	done

# ------------------------------------------------------------------------------ checks

# Runs every check even when an earlier one fails; exits non-zero if any failed.
test: deps venv
	@status=0; \
	echo ">> ruff check src tests"; $(VENV)/bin/ruff check src tests || status=1; \
	echo ">> mypy --strict src"; $(VENV)/bin/mypy --strict src || status=1; \
	echo ">> pytest $(PYTEST_ARGS)"; $(VENV)/bin/pytest $(PYTEST_ARGS) || status=1; \
	if [ $$status -ne 0 ]; then echo ">> FAILED (see above)" >&2; fi; \
	exit $$status

lint: venv
	@status=0; \
	$(VENV)/bin/ruff check src tests || status=1; \
	$(VENV)/bin/mypy --strict src || status=1; \
	exit $$status

# ------------------------------------------------------------------------------ running

# The demo's registry part needs the Distribution registry (Debian docker-registry): installed here when
# possible; without root or sudo the demo runs its offline part and says why it skipped the rest.
demo: venv bytecode
	@( $(call apt_ensure,docker-registry,docker-registry) ) || echo ">> could not install docker-registry: the demo skips its registry part"
	@( $(call apt_ensure,runc golang-github-containers-common qemu-user-static binfmt-support,runc qemu-aarch64-static) ) || echo ">> could not install runc and QEMU: the demo skips its build part"
	$(VPY) -m dockyard.demo

# bench/run.sh if there is one, else each bench/*.py (not _*.py) in turn, with the venv's
# Python and tests/ on PYTHONPATH (so benchmarks can reuse tests/fixtures_util.py).
bench: venv bytecode
	@export PATH="$(CURDIR)/$(VENV)/bin:$$PATH" PYTHONPATH="$(CURDIR)/tests$${PYTHONPATH:+:$$PYTHONPATH}"; \
	if [ -f bench/run.sh ]; then exec bash bench/run.sh; fi; \
	shopt -s nullglob; ran=0; \
	for f in bench/*.py; do \
	  case "$$(basename $$f)" in _*) continue;; esac; \
	  echo ">> $$f"; $(VPY) "$$f"; ran=1; \
	done; \
	[ $$ran -eq 1 ] || echo "no benchmarks yet (bench/run.sh or bench/*.py)"

# ------------------------------------------------------------------------------ cleaning

clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis src/*.egg-info
	find . -path ./$(VENV) -prune -o -path ./.git -prune -o -type d -name __pycache__ -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)

clean-test-cache:
	rm -rf --one-file-system "$${DOCKYARD_TEST_CACHE:-$$HOME/.cache/dockyard-tests}"

# Supervisor: build, test, demo and benchmark entry points.
#
#   make deps    Debian packages + the private CRIU 4.1.1 install (idempotent)
#   make build   the shim, the `supervisor` CLI (NativeAOT), `supervisor-daemon` and `supervisor-remote` in artifacts/bin/
#   make certs   a development CA and control-plane certificates in artifacts/certs/ (scripts/make-certs.sh)
#   make test    deps + build + every test project (unit and root integration)
#   make demo    the daemon with config/demo.conf (DURATION=30 stops it after 30 s)
#   make demo-runtime  the CLI-only tour of the runtime (scripts/demo.sh)
#   make bench   side-by-side benchmarks against runc (bench/README.md)

SHELL := /bin/bash
ROOT := $(abspath .)
ARTIFACTS := $(ROOT)/artifacts
BIN := $(ARTIFACTS)/bin
CRIU_PREFIX ?= /opt/supervisor/criu
ROOTFS := $(ARTIFACTS)/rootfs
CONFIGURATION ?= Release
DOTNET ?= dotnet
RESULTS := $(ARTIFACTS)/test-results
APT_PACKAGES := busybox-static libseccomp-dev libseccomp2 jq cmake gcc libc6-dev runc iproute2 openssl

.PHONY: all deps native build certs rootfs test unit-test integration-test demo demo-runtime bench clean

all: build

deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@scripts/install-criu.sh $(CRIU_PREFIX)

native:
	@cmake -S native -B $(ARTIFACTS)/native -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(ARTIFACTS)/native --parallel 2
	@mkdir -p $(BIN)
	@install -m 0755 $(ARTIFACTS)/native/supervisor-shim $(BIN)/supervisor-shim

build: native
	@$(DOTNET) publish src/Supervisor.Cli/Supervisor.Cli.csproj -c $(CONFIGURATION) -r linux-x64 \
	    -o $(ARTIFACTS)/publish/cli -nologo -v quiet
	@install -m 0755 $(ARTIFACTS)/publish/cli/supervisor $(BIN)/supervisor
	@$(DOTNET) publish src/Supervisor.Daemon/Supervisor.Daemon.csproj -c $(CONFIGURATION) -r linux-x64 --self-contained false \
	    -p:PublishSingleFile=true -o $(ARTIFACTS)/publish/daemon -nologo -v quiet
	@install -m 0755 $(ARTIFACTS)/publish/daemon/supervisor-daemon $(BIN)/supervisor-daemon
	@$(DOTNET) publish src/Supervisor.RemoteClient/Supervisor.RemoteClient.csproj -c $(CONFIGURATION) -r linux-x64 --self-contained false \
	    -p:PublishSingleFile=true -o $(ARTIFACTS)/publish/remote -nologo -v quiet
	@install -m 0755 $(ARTIFACTS)/publish/remote/supervisor-remote $(BIN)/supervisor-remote
	@echo "built $(BIN)/supervisor, $(BIN)/supervisor-daemon, $(BIN)/supervisor-remote and $(BIN)/supervisor-shim"

rootfs:
	@scripts/make-rootfs.sh $(ROOTFS)

certs:
	@scripts/make-certs.sh $(ARTIFACTS)/certs

test: deps build rootfs
	@rm -rf $(RESULTS) && mkdir -p $(RESULTS)
	@ctest --test-dir $(ARTIFACTS)/native --output-on-failure --output-junit $(RESULTS)/native.xml
	@$(DOTNET) build Supervisor.sln -c $(CONFIGURATION) -nologo -v quiet
	@status=0; for proj in tests/*/*.Tests.csproj; do \
	    name=$$(basename $$proj .csproj); \
	    SUPERVISOR_BIN=$(BIN) SUPERVISOR_ROOTFS=$(ROOTFS) SUPERVISOR_CRIU=$(CRIU_PREFIX)/bin/criu \
	    $(DOTNET) test $$proj -c $(CONFIGURATION) --no-build -nologo \
	        --logger "trx;LogFileName=$$name.trx" --results-directory $(RESULTS) || status=1; \
	done; exit $$status

demo: build rootfs
	@scripts/demo-daemon.sh $(DURATION)

demo-runtime: build rootfs
	@scripts/demo.sh $(DURATION)

bench: build rootfs
	@bench/run-vs-runc.sh

clean:
	rm -rf $(ARTIFACTS) */*/bin */*/obj

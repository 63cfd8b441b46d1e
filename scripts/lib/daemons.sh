# Shell shared by scripts/daemons-up and scripts/fault-daemons-up (sourced, not run):
# the packages, the subordinate ids, the offline busybox test image and the test client
# certificates. The caller sets `state_dir` (where the image and the certificates go)
# and `daemons` (which of lxd, incus it brings up), and defines `say` and `die`.

wants() { case " $daemons " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

make_client_certificates() {
  local name
  for name in client untrusted; do
    [ -s "$state_dir/$name.crt" ] && [ -s "$state_dir/$name.key" ] && continue
    say "making the test client certificate $state_dir/$name.crt"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:secp384r1 -sha384 -nodes \
      -keyout "$state_dir/$name.key" -out "$state_dir/$name.crt" -days 3650 \
      -subj "/CN=lxpack-test-$name" -addext "extendedKeyUsage=clientAuth" 2>/dev/null \
      || die "openssl could not make $state_dir/$name.crt"
    chmod 600 "$state_dir/$name.key"
  done
}

install_packages() {
  local missing=()
  wants lxd && ! command -v lxd >/dev/null 2>&1 && missing+=(lxd lxd-client)
  wants incus && ! command -v incus >/dev/null 2>&1 && missing+=(incus-base incus-client)
  command -v busybox >/dev/null 2>&1 || missing+=(busybox-static)
  command -v newuidmap >/dev/null 2>&1 || missing+=(uidmap)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  # A managed bridge (lxpack's egress network) runs dnsmasq for DHCP and DNS.
  command -v dnsmasq >/dev/null 2>&1 || missing+=(dnsmasq-base)
  # The btrfs test pool (a pool that enforces a root disk's size).
  command -v mkfs.btrfs >/dev/null 2>&1 || missing+=(btrfs-progs)
  [ ${#missing[@]} -eq 0 ] && return 0
  if wants incus && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    say "adding bookworm-backports (Incus 6.0 comes from there)"
    cat > /etc/apt/sources.list.d/lxpack-backports.sources <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  fi
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Unprivileged containers need a subordinate id range for root; and on LXD, which
# cannot shift mounts here, a checkout owned by uid/gid 1000 (the tests' owner) is
# mapped with raw.idmap, which root must be allowed to map: root:1000:1.
ensure_subids() {
  local file
  for file in /etc/subuid /etc/subgid; do
    touch "$file"
    grep -q '^root:[0-9]*:[0-9]\{5,\}$' "$file" || echo 'root:1000000:1000000000' >> "$file"
    grep -qx 'root:1000:1' "$file" || echo 'root:1000:1' >> "$file"
  done
}

# $1 = lxd|incus: the client command and the daemon's binary.
client_of() { case "$1" in lxd) echo lxc ;; incus) echo incus ;; esac; }

daemon_binary() {
  case "$1" in
    lxd) command -v lxd ;;
    incus)
      local candidate
      for candidate in /usr/libexec/incus/incusd /usr/lib/incus/incusd "$(command -v incusd || true)"; do
        [ -n "$candidate" ] && [ -x "$candidate" ] && { echo "$candidate"; return 0; }
      done
      return 1 ;;
  esac
}

# The busybox test image, built offline once: $state_dir/images/busybox.tar.gz.
build_test_image() {
  local dir="$state_dir/images/busybox" arch release
  local tarball="$state_dir/images/busybox.tar.gz"
  [ -s "$tarball" ] && return 0
  say "building the busybox test image offline"
  rm -rf "$dir"; mkdir -p "$dir/rootfs"
  arch=$(uname -m)
  release=$(busybox 2>&1 | sed -n 's/^BusyBox v\([0-9.]*\).*/\1/p')
  (
    cd "$dir/rootfs"
    mkdir -p bin sbin etc proc sys dev tmp root usr/bin usr/sbin var/tmp run home
    chmod 1777 tmp var/tmp
    cp "$(command -v busybox)" bin/busybox
    local applet
    for applet in $(bin/busybox --list); do
      [ "$applet" = busybox ] || ln -sf /bin/busybox "bin/$applet"
    done
    printf '#!/bin/sh\nexec /bin/sleep 2147483647\n' > sbin/init
    chmod 755 sbin/init
    printf 'root:x:0:0:root:/root:/bin/sh\n' > etc/passwd
    printf 'root:x:0:\n' > etc/group
  )
  cat > "$dir/metadata.yaml" <<METADATA
architecture: $arch
creation_date: $(date +%s)
properties:
  os: busybox
  release: "${release:-1}"
  architecture: $arch
  description: lxpack test image (busybox ${release:-1})
METADATA
  tar -C "$dir" -czf "$tarball" metadata.yaml rootfs
}

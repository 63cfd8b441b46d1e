# Shell shared by scripts/cluster-up and scripts/cluster-down (sourced, not run): where
# each member of the test clusters lives and listens, how to reach it, and how to tell
# a member this project started from any other process. The caller sets `cluster_dir`
# and `members`, defines `say`, and sources scripts/lib/daemons.sh first.

kind_dir() { echo "$cluster_dir/$1"; }
member_dir() { echo "$cluster_dir/$1/m$2"; }
member_pid() { cat "$cluster_dir/$1/m$2.pid" 2>/dev/null || true; }
# Incus on 127.0.0.2.., LXD on 127.0.1.2..: both clusters run side by side.
member_address() { case $1 in incus) echo "127.0.0.$(($2 + 1))" ;; lxd) echo "127.0.1.$(($2 + 1))" ;; esac; }
dir_variable() { case $1 in lxd) echo LXD_DIR ;; incus) echo INCUS_DIR ;; esac; }
conf_variable() { case $1 in lxd) echo LXD_CONF ;; incus) echo INCUS_CONF ;; esac; }

# The client, on member I's socket, with a configuration directory of its own (so it
# never reads or writes root's ~/.config/incus or ~/snap/lxd).
member_cli() {
  local kind=$1 i=$2; shift 2
  env "$(dir_variable "$kind")=$(member_dir "$kind" "$i")" "$(conf_variable "$kind")=$(kind_dir "$kind")/conf" \
    timeout 120 "$(client_of "$kind")" "$@"
}
member_answers() { member_cli "$1" "$2" query /1.0 >/dev/null 2>&1; }
online_members() { member_cli "$1" 1 cluster list --format csv 2>/dev/null | grep -c ',ONLINE,' || true; }

# Alive: running, not a zombie (a killed daemon stays one until init reaps it).
alive() { [ -n "$1" ] && [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]; }
# Ours: alive, and member I of KIND (its state directory in its environment), not
# another process that got a stale PID. A member a test froze (SIGSTOP) is thawed.
member_is_ours() {
  local kind=$1 i=$2 pid
  pid=$(member_pid "$kind" "$i")
  alive "$pid" || return 1
  tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx "$(dir_variable "$kind")=$(member_dir "$kind" "$i")" || return 1
  if [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" = T ]; then
    say "$kind m$i (pid $pid) was frozen: thawing it"
    kill -CONT "$pid"
  fi
}

# Stops every member of KIND this project started (their instances first, while the
# cluster can still list them: a daemon that stops leaves its containers running),
# ends the container monitors a killed member left, unmounts what the daemons mounted
# under the state directory, and removes it.
remove_cluster_state() {
  local kind=$1 i pid instance first=""
  for i in $(seq 1 "$members"); do member_is_ours "$kind" "$i" && { first=$i; break; }; done
  if [ -n "$first" ]; then
    for instance in $(member_cli "$kind" "$first" list --all-projects --format csv -c n 2>/dev/null || true); do
      say "$kind: deleting instance $instance"
      member_cli "$kind" "$first" delete --force "$instance" >/dev/null 2>&1 || true
    done
  fi
  for i in $(seq 1 "$members"); do
    member_is_ours "$kind" "$i" || continue
    pid=$(member_pid "$kind" "$i")
    say "$kind m$i: stopping pid $pid"
    kill "$pid"
  done
  for i in $(seq 1 "$members"); do
    pid=$(member_pid "$kind" "$i")
    for _ in $(seq 1 120); do alive "$pid" || break; sleep 0.25; done
    alive "$pid" && member_is_ours "$kind" "$i" && { say "$kind m$i (pid $pid) still runs after 30 s: SIGKILL"; kill -9 "$pid"; }
  done
  # The monitors of a killed member's containers name its state directory.
  for pid in $(pgrep -f "^\[lxc monitor\] $(kind_dir "$kind")/" || true); do
    say "$kind: ending the orphaned container monitor $pid"
    kill -9 "$pid" 2>/dev/null || true
  done
  awk -v base="$(kind_dir "$kind")/" 'index($5, base) == 1 { print $5 }' /proc/self/mountinfo | sort -r \
    | while read -r mount; do umount -l "$mount" 2>/dev/null || true; done
  rm -rf "$(kind_dir "$kind")"
}

#!/usr/bin/env bash
# The fresh-machine check: the README's first command on a brand-new Debian 12, as root.
#
#   bash test/fresh/fresh_machine.sh          (as root; test/run_all.sh runs it as the suite
#                                              "fresh machine" under CI=true or MLPSCALE_FRESH=1)
#
# 1. a Debian 12 (bookworm) minbase root made by debootstrap from the mirror this machine's apt
#    uses (the bare debootstrap result is cached as a tarball, see below), in a new directory;
# 2. a clean clone of this checkout's committed HEAD at /root/mlpscale in it (uncommitted
#    changes are not tested);
# 3. /proc, /sys, /dev, /dev/pts bind-mounted, a private tmpfs on /dev/shm, resolv.conf and the
#    apt sources of a Debian installer (this machine's mirrors), services not started by
#    package scripts (policy-rc.d, as in Debian's container images);
# 4. `cd /root/mlpscale && bash scripts/demo.sh` in a chroot, as root, with a clean
#    environment and the demo's own shorter settings ($MLPSCALE_FRESH_DEMO_ENV);
# 5. checks that it printed its test accuracy and wrote its plots; with MLPSCALE_FRESH_TESTS=1
#    then also runs the README's second command, `bash test/run_all.sh`, there and checks that
#    it ends with "N passed, 0 failed".
# Prints TAP.  On exit, also on failure or interrupt, it kills every process whose root is
# inside the chroot (the demo's cluster, ...), unmounts everything under it and removes it; the
# last test checks that nothing is left.  It runs in a private mount namespace of its own
# (unshare), so its mounts are never seen by, nor outlive, anything else on the machine.
# On 2 cores: about 2 minutes with a cold cache (debootstrap 45 s), 70 s with a warm one; most
# of the rest is the demo's apt-get install.
#
# Settings (environment):
#   MLPSCALE_FRESH_TESTS=1     also run test/run_all.sh in the fresh root (about 4 minutes more)
#   MLPSCALE_FRESH_DEMO_ENV    the demo's settings
#                              ("MLPSCALE_DEMO_ROWS=10000 MLPSCALE_DEMO_EPOCHS=2 MLPSCALE_DEMO_ARCH=B_2-Wi_256")
#   MLPSCALE_FRESH_CACHE       where the base tarball is kept      (/var/cache/mlpscale-fresh)
#   MLPSCALE_FRESH_MAX_AGE     days before the base is made again  (7)
#   MLPSCALE_FRESH_REFRESH=1   make the base again now
#   MLPSCALE_FRESH_MIRROR, MLPSCALE_FRESH_SECURITY_MIRROR   (default: this machine's apt sources)
#   MLPSCALE_FRESH_WORKDIR     where the root is made               (/var/tmp)
#   MLPSCALE_FRESH_LOGS        logs, kept after the root is gone    (/tmp/mlpscale-fresh)
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SUITE=bookworm
CACHE=${MLPSCALE_FRESH_CACHE:-/var/cache/mlpscale-fresh}
MAX_AGE=${MLPSCALE_FRESH_MAX_AGE:-7}
WORKDIR=${MLPSCALE_FRESH_WORKDIR:-/var/tmp}
LOGS=${MLPSCALE_FRESH_LOGS:-/tmp/mlpscale-fresh}
DEMO_ENV=${MLPSCALE_FRESH_DEMO_ENV:-"MLPSCALE_DEMO_ROWS=10000 MLPSCALE_DEMO_EPOCHS=2 MLPSCALE_DEMO_ARCH=B_2-Wi_256"}
TESTS=${MLPSCALE_FRESH_TESTS:-0}

die() { echo "not ok 1 - fresh machine: $*"; echo "1..1"; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot and mounts need it)"
[ "$(uname -s)" = Linux ] || die "needs Linux"

# A private mount namespace: the chroot's mounts vanish with the last process that uses them.
if [ -z "${MLPSCALE_FRESH_UNSHARED:-}" ] && command -v unshare >/dev/null &&
   unshare --mount --propagation private true 2>/dev/null; then
    MLPSCALE_FRESH_UNSHARED=1 exec unshare --mount --propagation private bash "${BASH_SOURCE[0]}" "$@"
fi

n=0
failed=0
ok() {                      # ok STATUS NAME
    local rc=$1; shift
    n=$((n + 1))
    if [ "$rc" = 0 ]; then echo "ok $n - $*"; else echo "not ok $n - $*"; failed=$((failed + 1)); fi
}
diag() { sed 's/^/# /'; }
log() { echo "# $(date +%H:%M:%S) $*"; }

mkdir -p "$LOGS"
T0=$SECONDS

# ---- host tools ------------------------------------------------------------------------
host_tools() {
    local missing=() p
    for p in debootstrap git; do command -v "$p" >/dev/null || missing+=("$p"); done
    [ ${#missing[@]} = 0 ] && return 0
    log "installing ${missing[*]} on this machine (host tools of the check)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ---- this machine's Debian mirrors ------------------------------------------------------
# mirror_of SUITE: the first URI of the apt sources (one-line or deb822) that serves SUITE.
mirror_of() {
    local want=$1 f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        case $f in
            *.sources)
                awk -v want="$want" '
                    function flush() { if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " want " ") && uri != "") { print uri; found = 1; exit } types = suites = uri = "" }
                    /^[[:space:]]*$/ { flush(); next }
                    /^Types:/ { sub(/^Types:[[:space:]]*/, ""); types = $0 }
                    /^Suites:/ { sub(/^Suites:[[:space:]]*/, ""); suites = $0 }
                    /^URIs:/ { sub(/^URIs:[[:space:]]*/, ""); split($0, u, /[[:space:]]+/); uri = u[1] }
                    END { if (!found) flush() }' "$f" ;;
            *)
                sed -e 's/\[[^]]*\]//' "$f" | awk -v want="$want" '$1 == "deb" && $3 == want { print $2; exit }' ;;
        esac
    done | head -1
}
MIRROR=${MLPSCALE_FRESH_MIRROR:-$(mirror_of "$SUITE")}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=${MLPSCALE_FRESH_SECURITY_MIRROR:-$(mirror_of "$SUITE-security")}
SECURITY=${SECURITY:-http://deb.debian.org/debian-security}

# ---- the cached base: the bare debootstrap result, nothing of ours ----------------------
ARCH=$(dpkg --print-architecture 2>/dev/null || echo amd64)
BASE=$CACHE/$SUITE-minbase-$ARCH-$(printf '%s' "$MIRROR" | md5sum | cut -c1-8).tar.gz

make_base() {
    local tmp
    mkdir -p "$CACHE"
    (
        flock 9     # one debootstrap at a time; a second run waits and then uses its result
        if [ "${MLPSCALE_FRESH_REFRESH:-0}" != 1 ] && [ -s "$BASE" ] &&
           [ -z "$(find "$BASE" -mtime +"$MAX_AGE" 2>/dev/null)" ]; then
            exit 0
        fi
        tmp=$(mktemp -d "$WORKDIR/mlpscale-debootstrap.XXXXXX") || exit 1
        echo "$tmp" >"$LOGS/debootstrap.dir"
        log "debootstrap --variant=minbase $SUITE from $MIRROR (cached afterwards in $BASE)"
        if debootstrap --variant=minbase --arch="$ARCH" "$SUITE" "$tmp/root" "$MIRROR" \
               >"$LOGS/debootstrap.log" 2>&1 &&
           tar -C "$tmp/root" --numeric-owner -czf "$BASE.tmp" . &&
           mv -f "$BASE.tmp" "$BASE"; then
            rc=0
        else
            rc=1; tail -20 "$LOGS/debootstrap.log" | diag
        fi
        unmount_under "$tmp"
        [ -z "$(mounts_under "$tmp")" ] && rm -rf --one-file-system "$tmp"
        rm -f "$BASE.tmp" "$LOGS/debootstrap.dir"
        exit $rc
    ) 9>"$CACHE/.lock"
}

# ---- cleanup ----------------------------------------------------------------------------
mounts_under() {            # mounts_under DIR: mount points at or below DIR, deepest first
    local dir=$1
    awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo |
        awk '{ print length($0) " " $0 }' | sort -rn | cut -d' ' -f2-
}
unmount_under() {
    local dir=$1 m try
    for try in 1 2 3; do
        for m in $(mounts_under "$dir"); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
        [ -z "$(mounts_under "$dir")" ] && return 0
        sleep 1
    done
    return 1
}
procs_in() {                # procs_in DIR: pids whose root directory is DIR or below it
    local dir=$1 p r
    for p in /proc/[0-9]*; do
        r=$(readlink "$p/root" 2>/dev/null) || continue
        if [ "$r" = "$dir" ] || [ "${r#"$dir"/}" != "$r" ]; then echo "${p#/proc/}"; fi
    done
}
kill_in() {
    local dir=$1 pids i
    for i in 1 2 3 4 5 6 7 8 9 10; do
        pids=$(procs_in "$dir")
        [ -z "$pids" ] && return 0
        # SIGTERM first (PostgreSQL shuts down), SIGKILL for what is still there after 3 s
        if [ "$i" -le 3 ]; then kill -TERM $pids 2>/dev/null; else kill -KILL $pids 2>/dev/null; fi
        sleep 1
    done
    [ -z "$(procs_in "$dir")" ]
}
# Long steps run in the background and are waited for, so that a signal (timeout, ^C) runs
# the trap at once instead of after the step; the trap stops them with their children.
BG=
bg_wait() {                 # bg_wait [--log FILE] COMMAND...
    # the redirection stays with the job: the trap's own output must reach the TAP stream
    if [ "$1" = --log ]; then
        local out=$2; shift 2
        "$@" >"$out" 2>&1 &
    else
        "$@" &
    fi
    BG=$!
    wait "$BG"
    local rc=$?
    BG=
    return $rc
}
descendants() {             # descendants PID: PID and every process below it
    local list=" $1 " p id s pp changed=1
    while [ "$changed" = 1 ]; do
        changed=0
        for p in /proc/[0-9]*; do
            id=${p#/proc/}
            case $list in *" $id "*) continue ;; esac
            s=$(cat "$p/stat" 2>/dev/null) || continue
            s=${s##*) }; pp=${s#* }; pp=${pp%% *}
            case $list in *" $pp "*) list+="$id "; changed=1 ;; esac
        done
    done
    echo $list
}
CLEANED=0
cleanup() {
    [ "$CLEANED" = 1 ] && return 0
    CLEANED=1
    local rc=0 d pids
    if [ -n "$BG" ]; then
        pids=$(descendants "$BG")
        kill -TERM $pids 2>/dev/null; sleep 2; kill -KILL $pids 2>/dev/null
    fi
    [ -f "$LOGS/debootstrap.dir" ] && d=$(cat "$LOGS/debootstrap.dir") && [ -n "$d" ] &&
        { kill_in "$d"; unmount_under "$d"; [ -z "$(mounts_under "$d")" ] && rm -rf --one-file-system "$d"; rm -f "$LOGS/debootstrap.dir"; }
    [ -n "${WORK:-}" ] && [ -d "$WORK" ] || return 0
    kill_in "$R" || { echo "# cleanup: processes still in $R: $(procs_in "$R" | tr '\n' ' ')"; rc=1; }
    unmount_under "$WORK" || { echo "# cleanup: still mounted: $(mounts_under "$WORK" | tr '\n' ' ')"; rc=1; }
    # Never remove a tree that still has a mount in it: that would delete what it shows (/dev).
    if [ -z "$(mounts_under "$WORK")" ]; then
        rm -rf --one-file-system "$WORK" || rc=1
    else
        rc=1
    fi
    return $rc
}
on_exit() {
    local rc=$?
    if [ "$CLEANED" = 0 ]; then
        cleanup
        [ "$n" -gt 0 ] && echo "1..$n"
    fi
    exit $rc
}
trap on_exit EXIT
trap 'n=$((n + 1)); echo "not ok $n - interrupted by a signal"; exit 130' INT TERM HUP

# ---- 1. the base -------------------------------------------------------------------------
if host_tools; then ok 0 "host tools: debootstrap, git"; else ok 1 "host tools: debootstrap, git (apt-get install failed)"; fi
SRC=$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null) || SRC=
HEAD=$(git -C "$HERE" rev-parse HEAD 2>/dev/null) || HEAD=
[ -n "$SRC" ] && [ -n "$HEAD" ] || { ok 1 "this checkout is a git repository"; exit 1; }

t=$SECONDS
if bg_wait make_base; then
    ok 0 "Debian 12 minbase from $MIRROR ($(( SECONDS - t )) s, base $(date -r "$BASE" +%F))"
else
    ok 1 "debootstrap of a Debian 12 minbase (log $LOGS/debootstrap.log)"; exit 1
fi

WORK=$(mktemp -d "$WORKDIR/mlpscale-fresh.XXXXXX")
R=$WORK/root
mkdir "$R"
t=$SECONDS
bg_wait tar -C "$R" --numeric-owner -xzf "$BASE" && [ -x "$R/bin/bash" ] && [ -x "$R/usr/bin/apt-get" ]
ok $? "brand-new root in $R ($(( SECONDS - t )) s; nothing of mlpscale, PostgreSQL or a compiler in it)"
if [ -e "$R/usr/bin/gcc" ] || [ -e "$R/usr/bin/pg_config" ] || [ -d "$R/usr/lib/postgresql" ] ||
   grep -q '^postgres:' "$R/etc/passwd"; then
    ok 1 "the base is bare (no gcc, no PostgreSQL, no postgres user)"; exit 1
fi

# ---- 2. the checkout ---------------------------------------------------------------------
if [ -n "$(git -C "$SRC" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    echo "# note: $SRC has uncommitted changes; the check tests the committed HEAD ${HEAD:0:7}"
fi
git clone -q --no-hardlinks "$SRC" "$R/root/mlpscale" 2>"$LOGS/clone.log" &&
    git -C "$R/root/mlpscale" checkout -q --detach "$HEAD" 2>>"$LOGS/clone.log" &&
    [ "$(git -C "$R/root/mlpscale" rev-parse HEAD)" = "$HEAD" ] &&
    [ -z "$(git -C "$R/root/mlpscale" status --porcelain)" ]
ok $? "clean clone of ${HEAD:0:7} at /root/mlpscale"
[ "$failed" = 0 ] || exit 1

# ---- 3. what the root needs ------------------------------------------------------------
mount_all() {
    mount -t proc proc "$R/proc" &&
        mount --bind /sys "$R/sys" &&
        mount --bind /dev "$R/dev" &&
        mount --bind /dev/pts "$R/dev/pts" &&
        mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/dev/shm"
}
mount_all
ok $? "mounted /proc, /sys, /dev, /dev/pts, a private /dev/shm"
cp -L /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null
rm -f "$R/etc/apt/sources.list"
cat >"$R/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
printf '#!/bin/sh\n# fresh-machine check: package scripts start no services in this chroot\nexit 101\n' \
    >"$R/usr/sbin/policy-rc.d"
chmod 755 "$R/usr/sbin/policy-rc.d"
[ "$failed" = 0 ] || exit 1

# in_root COMMAND: runs a shell command in the chroot as root with a clean login-like
# environment (no variable of this machine leaks in) from /root/mlpscale.
in_root() {
    local envs=(HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb
                PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
    local v
    for v in http_proxy https_proxy no_proxy; do [ -n "${!v:-}" ] && envs+=("$v=${!v}"); done
    chroot "$R" /usr/bin/env -i "${envs[@]}" /bin/bash -c "cd /root/mlpscale && $1" </dev/null
}

# ---- 4. the README's first command -----------------------------------------------------
log "bash scripts/demo.sh with $DEMO_ENV"
t=$SECONDS
bg_wait --log "$LOGS/demo.log" in_root "env $DEMO_ENV timeout 2400 bash scripts/demo.sh"
rc=$?
DEMO_S=$(( SECONDS - t ))
ok $rc "bash scripts/demo.sh exits 0 ($DEMO_S s, log $LOGS/demo.log)"
[ "$rc" = 0 ] || tail -30 "$LOGS/demo.log" | diag
acc=$(sed -n 's/^test accuracy: \([0-9.][0-9.]*\)$/\1/p' "$LOGS/demo.log" | tail -1)
[ -n "$acc" ] && grep -q "^== done in .*: test accuracy $acc" "$LOGS/demo.log"
ok $? "the demo printed its test accuracy (${acc:-none})"
plots_ok=0
for f in loss accuracy; do
    p=$R/tmp/mlpscale-demo/plots/$f.png
    [ -s "$p" ] && [ "$(head -c 4 "$p" | od -An -c | tr -d ' ')" = '211PNG' ] || plots_ok=1
done
ok $plots_ok "the demo wrote its plots (/tmp/mlpscale-demo/plots/loss.png, accuracy.png)"
mkdir -p "$LOGS/plots" && cp -f "$R"/tmp/mlpscale-demo/plots/*.png "$LOGS/plots/" 2>/dev/null

# ---- 5. the README's second command (MLPSCALE_FRESH_TESTS=1) ----------------------------
if [ "$TESTS" = 1 ]; then
    log "bash test/run_all.sh"
    t=$SECONDS
    # MLPSCALE_FRESH=0: the nested suite does not start a fresh-machine check of its own.
    bg_wait --log "$LOGS/run_all.log" in_root "MLPSCALE_FRESH=0 timeout 3600 bash test/run_all.sh"
    rc=$?
    last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$LOGS/run_all.log" | tail -1)
    rm -rf "$LOGS/run_all-logs" && cp -r "$R/tmp/mlpscale-test" "$LOGS/run_all-logs" 2>/dev/null
    [[ "$last" =~ ^[0-9]+\ passed,\ 0\ failed$ ]] && [ "$rc" = 0 ] && [ "$(tail -1 "$LOGS/run_all.log")" = "$last" ]
    ok $? "bash test/run_all.sh in the fresh root ends with '${last:-no summary line}' (exit $rc, $(( SECONDS - t )) s, log $LOGS/run_all.log)"
    [ "$(tail -1 "$LOGS/run_all.log")" = "$last" ] || echo "# but its last line is: $(tail -1 "$LOGS/run_all.log")"
    [[ "$last" =~ ^[0-9]+\ passed,\ 0\ failed$ ]] || grep -A60 '^== failures' "$LOGS/run_all.log" | head -60 | diag
fi

# ---- cleanup, checked --------------------------------------------------------------------
ROOT_DIR=$R
cleanup
rc=$?
left_p=$(procs_in "$ROOT_DIR" | wc -l)
left_m=$(mounts_under "$WORK" | wc -l)
[ "$rc" = 0 ] && [ "$left_p" = 0 ] && [ "$left_m" = 0 ] && [ ! -e "$WORK" ]
ok $? "cleaned up: no process in the root, no mount, root removed"
echo "# fresh-machine check: $(( SECONDS - T0 )) s in all"
echo "1..$n"
[ "$failed" = 0 ]

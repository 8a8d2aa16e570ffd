"""ovis's stage 0 (``/init`` of the initramfs) and its way back (``/shutdown``).

Both are busybox ``sh`` scripts: Python is not in the initramfs, it comes
with the root.  ``/init`` does what anopa's aa-stage0 does, with the work of
its onboot services (load modules, mount the root) written inline:

1. a clean environment (``PATH=/bin``, umask 022, cwd /), /proc, /dev
   (devtmpfs; stdio reopened on /dev/console) and /sys;
2. a boot log, ``/boot.log``, each line stamped with a TAI64N label as
   ``s6-tai64n`` writes it (``@`` + 24 hex digits).  busybox has no
   s6-tai64n and its ``date`` no ``%N``: the label is ``date +%s`` read
   once at stage 0 start plus the /proc/uptime elapsed since then, so the
   stamps are 10 ms-precise relative to each other (the nanosecond field is
   a multiple of 10^7) and within 1 s of the real time; TAI is UTC + 37 s
   as skalibs counts it.  After the switch the log is
   ``/run/initramfs/boot.log`` in the new root;
3. the kernel command line: ``init=PATH`` (default: baked in when the
   archive is built) and ``break`` (a shell before the root is switched to);
4. the kernel modules of ``/etc/modules``, in order;
5. the root: the 9p share (read-only) on /lower, a tmpfs on /rw and an
   overlay of both on /root-fs, plus a tmpfs on /root-fs/run (which stage 1
   then keeps, being a mount point already);
6. the initramfs kept reachable as ``/run/initramfs`` in the new root (a
   bind mount of the rootfs, not recursive), /dev, /proc and /sys moved in;
7. the switch: ``cd /root-fs; mount --move . /; chroot . INIT``.  pivot_root(2)
   cannot leave the initramfs rootfs (it has no parent mount), and busybox
   ``switch_root`` would empty the rootfs, which /run/initramfs shows: this
   is the move-mount + chroot of klibc's run-init and of aa-stage0 (what
   ``ovis.linux.chroot.chroot_exec`` does, with busybox's ``chroot``).  INIT
   gets a clean environment and no arguments (``ovis boot`` would take the
   words the kernel passes on for a container command; it reads
   /proc/cmdline itself).

The 9p share is mounted ``cache=loose``: it is read-only and the host is not
expected to change under a running VM, and it spares a round trip to the
host for every ``stat`` (Python's imports are made of them).

If a module fails to load the boot goes on; if the root cannot be mounted
stage 0 says so and opens a shell (``exit`` resumes), as aa-stage0 does.

Which way back each boot takes:

- ovis's own boot (``init=`` a wrapper running ``ovis boot``): ovis's stage 4
  (``.s6-svscan/finish``) kills, unmounts what PID 1 sees (/run/initramfs
  included), remounts / read-only and calls reboot(2) itself from the new
  root; ``/shutdown`` is not used;
- anopa's stages (aa-stage3): pivot into /run/initramfs and exec
  ``/shutdown`` (tests/test_vm.py takes that path with a pivoting init).

``/shutdown poweroff|reboot|halt`` is stage 4 inside the
initramfs, for a stage 3 that pivots back into it the anopa way
(``cd /run/initramfs; pivot_root . root-fs; chroot . /shutdown ACTION``):
it unmounts everything under /root-fs (deepest and latest first, in passes;
read-only remount, then a lazy unmount, for what stays busy), syncs and ends
with busybox ``poweroff -f`` / ``reboot -f`` / ``halt -f`` (reboot(2) right
away).  Either way the 9p and tmpfs mounts under the overlay stay on the hidden rootfs, as
after any switch_root: a read-only share and memory, nothing to flush.

Both scripts print ``ovis-vm-timeline: EVENT UPTIME`` lines on the console
(/proc/uptime); :mod:`tests.vmtools.qemu` reads the boot timeline from them.
"""

from __future__ import annotations

import shlex

SHARE_TAG = "host"
NINEP_OPTIONS = "trans=virtio,version=9p2000.L,ro,cache=loose"
NEWROOT = "/root-fs"
TIMELINE = "ovis-vm-timeline:"
#: Printed by /init and /shutdown when they open a shell: a runner that
#: cannot type into the console stops the VM on it.
SHELL_PROMPT = "Trying to open a shell"

_COMMON = r"""
# /proc/uptime: "12.34" (seconds) and in hundredths of a second.
uptime_s() { read -r up _ < "$PROC/uptime"; echo "$up"; }
uptime_cs() {
    read -r up _ < "$PROC/uptime"
    echo $(( ${up%.*} * 100 + 1${up#*.} - 100 ))
}
mark() { echo "@TIMELINE@ $1 $(uptime_s)"; }
"""

_TAI64N = r"""
# The TAI64N label of now, as s6-tai64n writes it: 2^62 + TAI seconds (UTC + 37),
# then nanoseconds; see tests/vmtools/stage0.py for the precision.
tai64n() {
    cs=$(( T0_EPOCH * 100 + $(uptime_cs) - T0_CS ))
    printf '@%016x%08x' $(( 0x4000000000000000 + 37 + cs / 100 )) $(( cs % 100 * 10000000 ))
}
"""

MOUNT_ROOT = r"""mount_root() {
    # The virtio device may still be probing: give the 9p channel a moment.
    n=0
    until mount -t 9p -o "$NINEP_OPTIONS" "$SHARE_TAG" /lower 2>/dev/null; do
        n=$((n + 1))
        if [ $n -ge 30 ]; then
            mount -t 9p -o "$NINEP_OPTIONS" "$SHARE_TAG" /lower && break
            log "cannot mount the 9p share $SHARE_TAG on /lower"
            return 1
        fi
        sleep 0.1
    done
    mount -t tmpfs -o mode=0755 rw /rw && mkdir -p /rw/upper /rw/work || return 1
    mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay "$NEWROOT" \
        || { log "cannot mount the overlay on $NEWROOT"; return 1; }
    mount -t tmpfs -o mode=0755,nosuid,nodev run "$NEWROOT/run" \
        || { log "cannot mount a tmpfs on $NEWROOT/run"; return 1; }
}
"""
"""The shell function ``mount_root`` of /init (it calls ``log``; reads NINEP_OPTIONS,
SHARE_TAG and NEWROOT): also the start of the anopa initramfs's ``root-fs`` service."""

_INIT = r"""#!/bin/sh
# ovis stage 0: /init of the initramfs (generated by tests.vmtools.stage0, busybox sh).
# Mounts the root (9p share + tmpfs overlay), keeps the initramfs as
# /run/initramfs, moves /dev /proc /sys there and switches into init=.
export PATH=/bin
umask 022
cd /
set -f

MODULES=@MODULES@
SHARE_TAG=@SHARE_TAG@
NINEP_OPTIONS=@NINEP_OPTIONS@
INIT=@DEFAULT_INIT@
NEWROOT=@NEWROOT@
LOG=/boot.log
PROC=/proc

mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t devtmpfs -o nosuid,mode=0755 dev /dev
[ -c /dev/console ] && exec </dev/console >/dev/console 2>&1
mount -t sysfs -o nosuid,nodev,noexec sys /sys
@COMMON@
mark stage0
T0_EPOCH=$(date +%s)
T0_CS=$(uptime_cs)

@TAI64N@
log() {
    echo "$(tai64n) $*" >> "$LOG"
    echo "ovis stage 0: $*"
}
rescue() {
    log "$1"
    log "@SHELL_PROMPT@; exit to continue"
    setsid cttyhack sh -i
    log "shell exited: resuming"
}

log "Stage 0: mounting the root file system..."
BREAK=
for word in $(cat /proc/cmdline); do
    case $word in
        init=*) INIT=${word#init=} ;;
        break|break=*) BREAK=1 ;;
    esac
done

for m in $MODULES; do
    insmod "/lib/modules/$m.ko" || log "warning: cannot load module $m"
done
mark modules

@MOUNT_ROOT@mount_root || rescue "Mounting the root file system failed"
log "root: 9p share $SHARE_TAG ($NINEP_OPTIONS) under a tmpfs overlay on $NEWROOT"

if [ -n "$BREAK" ]; then
    rescue "Break requested"
fi

log "Moving $NEWROOT to / and switching to $INIT..."
# Keep the initramfs reachable from the new root, for stage 4 (/shutdown).
mkdir -p "$NEWROOT/run/initramfs"
mount -o bind / "$NEWROOT/run/initramfs" || log "warning: cannot bind the initramfs on /run/initramfs"
for fs in dev proc sys; do
    mount -o move "/$fs" "$NEWROOT/$fs" || log "warning: cannot move /$fs into $NEWROOT"
done
PROC=$NEWROOT/proc
[ -e "$NEWROOT$INIT" ] || [ -L "$NEWROOT$INIT" ] || log "warning: $INIT not found in the new root"
mark stage0-end
cd "$NEWROOT"
mount -o move . / || rescue "cannot move $NEWROOT onto /"
# From here "/" still means the rootfs for this process: run the initramfs's
# own binaries through the new root (./run/initramfs), as aa-stage0 does.
# No arguments: the words the kernel did not understand ("break"...) would be
# taken for a container command by `ovis boot`; init reads /proc/cmdline.
exec ./run/initramfs/bin/env -i PATH=/usr/bin:/usr/sbin:/bin:/sbin TERM=linux HOME=/ \
    ./run/initramfs/bin/chroot . "$INIT"
log "fatal: cannot run $INIT"
rescue "cannot run $INIT"
exec ./run/initramfs/bin/poweroff -f
"""

_SHUTDOWN = r"""#!/bin/sh
# ovis initramfs stage 4: /shutdown poweroff|reboot|halt (generated by tests.vmtools.stage0).
# Run as `chroot . /shutdown ACTION` after stage 3 pivoted into /run/initramfs
# with the old root on /root-fs: unmount it, sync, reboot(2).
export PATH=/bin
umask 022
cd /
set -f
OLDROOT=@OLDROOT@
PROC=/proc
action=${1:-poweroff}
case $action in
    poweroff|reboot|halt) ;;
    *) echo "ovis shutdown: unknown action $action: powering off"; action=poweroff ;;
esac

[ -r /proc/mounts ] || mount -t proc proc /proc
[ -c /dev/console ] || mount -t devtmpfs dev /dev 2>/dev/null
[ -c /dev/console ] && exec </dev/console >/dev/console 2>&1
@COMMON@
say() { echo "ovis shutdown: $*"; }
mark initramfs-stage4
say "Stage 4: unmounting the old root $OLDROOT..."

under() { case $1 in "$OLDROOT"|"$OLDROOT"/*) return 0 ;; esac; return 1; }
mounts() { cut -d' ' -f2 /proc/mounts | tac; }  # latest (deepest) first

unmounted=0
pass=0
while [ $pass -lt 8 ]; do
    pass=$((pass + 1))
    did=
    for m in $(mounts); do
        under "$m" || continue
        if umount "$m" 2>/dev/null; then
            say "unmounted $m"
            unmounted=$((unmounted + 1))
            did=1
        fi
    done
    [ -n "$did" ] || break
done
readonly=0
for m in $(mounts); do
    under "$m" || continue
    if mount -o remount,ro "$m" 2>/dev/null; then
        say "remounted read-only $m"
        readonly=$((readonly + 1))
    fi
    umount -l "$m" 2>/dev/null && say "detached $m"
done
left=$(for m in $(mounts); do under "$m" && echo "$m"; done)
say "unmounted $unmounted filesystem(s), $readonly remounted read-only${left:+; still mounted: $left}"
sync
mark shutdown-end
say "$action"
case $action in
    poweroff) exec poweroff -f ;;
    reboot) exec reboot -f ;;
    halt) exec halt -f ;;
esac
"""


def _q(value: str) -> str:
    return shlex.quote(value)


def init_script(*, default_init: str = "/sbin/init", share_tag: str = SHARE_TAG,
                ninep_options: str = NINEP_OPTIONS, modules: list[str] | tuple[str, ...] = ()) -> str:
    """The text of /init, with its defaults filled in (values shell-quoted)."""
    if not default_init.startswith("/"):
        raise ValueError(f"init must be an absolute path: {default_init!r}")
    return (_INIT.replace("@MOUNT_ROOT@", MOUNT_ROOT).replace("@COMMON@", _COMMON).replace("@TAI64N@", _TAI64N)
            .replace("@TIMELINE@", TIMELINE)
            .replace("@SHELL_PROMPT@", SHELL_PROMPT)
            .replace("@MODULES@", _q(" ".join(modules)))
            .replace("@SHARE_TAG@", _q(share_tag))
            .replace("@NINEP_OPTIONS@", _q(ninep_options))
            .replace("@DEFAULT_INIT@", _q(default_init))
            .replace("@NEWROOT@", _q(NEWROOT)))


def helpers() -> str:
    """The shell functions of /init (uptime_s, uptime_cs, mark, tai64n), for tests.

    They read ``$PROC/uptime``; tai64n needs ``T0_EPOCH`` (``date +%s`` at
    stage 0 start) and ``T0_CS`` (uptime_cs at that moment).
    """
    return _COMMON.replace("@TIMELINE@", TIMELINE) + _TAI64N


def shutdown_script() -> str:
    """The text of /shutdown."""
    return (_SHUTDOWN.replace("@COMMON@", _COMMON)
            .replace("@TIMELINE@", TIMELINE)
            .replace("@OLDROOT@", _q(NEWROOT)))

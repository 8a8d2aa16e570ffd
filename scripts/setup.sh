#!/usr/bin/env bash
# Install what ovis needs on a Debian machine, then ovis itself (editable).
#   bash scripts/setup.sh          run-time needs: s6, execline, unshare
#   bash scripts/setup.sh --test   plus the test dependencies (and, for the VM
#                                  tests, qemu-system-x86, linux-image-amd64, busybox-static)
# Idempotent: installs only what is missing.  Needs root for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

need=()
command -v s6-svscan >/dev/null 2>&1 || need+=(s6)
command -v execlineb >/dev/null 2>&1 || need+=(execline)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
command -v nsenter >/dev/null 2>&1 || need+=(util-linux)
command -v man >/dev/null 2>&1 || need+=(man-db)  # `man ovis`, `man ovis-status`...
if [ $want_test = 1 ]; then
    # The VM tests (tests/test_vm.py): QEMU, a kernel with its modules, a static busybox.
    command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
    ls /boot/vmlinuz-* >/dev/null 2>&1 || need+=(linux-image-amd64)
    dpkg-query -W -f '${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' \
        || need+=(busybox-static)
    # The VM tests run ovis on the distribution's own interpreter, as an installed system
    # does (tests/vmtools/qemu.py: DISTRO_PYTHON; Debian 12's is 3.11, what ovis needs).
    [ -x /usr/bin/python3 ] || need+=(python3)
    # Real daemons started from 66 frontends (tests/test_daemons66.py).
    for pkg in haveged lighttpd rsyslog; do
        dpkg-query -W -f '${Status}' $pkg 2>/dev/null | grep -q 'ok installed' || need+=($pkg)
    done
    # ovis analyze dot: the rendering test (tests/test_analyze.py) runs graphviz's dot.
    command -v dot >/dev/null 2>&1 || need+=(graphviz)
    # Swap tests fall back to a loop device; mount(8) for the boot tests' probes.
    command -v losetup >/dev/null 2>&1 || need+=(mount)
    command -v zsh >/dev/null 2>&1 || need+=(zsh)  # tests/test_docgen.py: zsh completion
    command -v runc >/dev/null 2>&1 || need+=(runc)  # tests/test_runc.py: a real OCI runtime
    command -v strace >/dev/null 2>&1 || need+=(strace)  # tests/test_execline_run.py: execve per start
    # tests/test_launchers.py builds a wheel of the tree (a plain `pip install .`) offline.
    /usr/bin/python3 -c 'import setuptools.build_meta, wheel' >/dev/null 2>&1 \
        || need+=(python3-setuptools python3-wheel)
fi
if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Installing a daemon must not start it (the tests start their own copies):
    # a policy-rc.d that refuses every start, only for this install.
    own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    if [ $own_policy = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

# Debian's own python3 refuses pip installs outside a venv (PEP 668); ovis has
# no run-time dependencies, so installing it next to the system packages is safe.
export PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# editable_mode=compat: a plain path entry in a .pth file instead of setuptools'
# import-hook finder, which every Python start on the machine would import
# (pathlib, urllib, fnmatch...): about 20 ms more for each ovis or aa-* command.
editable=(--config-settings editable_mode=compat)
if [ $want_test = 1 ]; then
    python3 -m pip install -q "${editable[@]}" -e ".[test]"
else
    python3 -m pip install -q "${editable[@]}" -e .
fi
# pip's console scripts (ovis, aa-*) run `site` and every .pth of the machine
# at each start; rewrite them into lean launchers (python -I -S on exactly
# this tree: ovis/cli/launchers.py). pip uninstall still removes them.
python3 -m ovis.cli.launchers
# Bytecode for every module now: where PYTHONDONTWRITEBYTECODE is set, or the
# tree is not writable by whoever runs ovis, each command (and every Python of a
# boot, seconds each on a slow CPU) would otherwise compile what it imports.
python3 -m compileall -q -j 0 ovis >/dev/null

# Man pages built from docs/ and bash/zsh completion built from the parser
# (python3 -m ovis.cli.docgen), under PREFIX (default /usr/local: in man's and
# zsh's default search paths, and bash-completion's).
python3 -m ovis.cli.docgen install "${OVIS_PREFIX:-/usr/local}"

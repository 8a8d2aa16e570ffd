"""Test tooling: booting ovis under a real kernel, in a QEMU virtual machine.

This is not part of the installed ovis (it lives next to the tests and is
never imported by ``ovis``): it is the harness of ``tests/test_vm.py`` and
``tests/test_anopa_stages.py``, and of ``make vm-boot`` (``python3 -m
tests.vmtools``, see docs/vm-boot.md).  It reads the checkout (the
examples, pyproject.toml, the seeds in ../shared) and so only works from one.

- ``initramfs``: a gzip'd newc cpio archive, written here byte by byte,
  holding busybox-static, the kernel modules that reach the root and
  ovis's stage 0 (``/init``) and initramfs stage 4 (``/shutdown``);
- ``stage0``: those two busybox ``sh`` scripts (Python is not in this
  initramfs: it comes with the root);
- ``qemu``: a scenario directory (skeleton, services, trees) on the host,
  the QEMU command line, the serial console captured line by line with host
  time stamps, and the boot timeline read from the console;
- ``timeline``: the markdown table of that timeline (in ``docs/benchmarks.md``);
- ``anopa``: anopa's own aa-stage0..aa-stage4 (from the seed) booting on
  ovis's aa-* commands, with an initramfs that carries a Python runtime,
  ovis, execline and s6 (stage 0 runs ``aa-start`` before any root exists).

The VM's root is the host's own ``/`` shared read-only over 9p, under a
tmpfs-backed overlay: the host's Python, ovis and s6 run in the VM as they
are, and a scenario is just a host directory referenced by absolute path.
"""

"""Booting ovis under a real kernel, in a QEMU virtual machine.

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
Nothing here is imported by the rest of ovis.
"""

"""linux layer of ovis (see DESIGN.md): the one place that calls the kernel directly.

- ``syscalls``: ctypes wrappers (mount, umount2, pivot_root, reboot, swapon/swapoff,
  sethostname), MS_/MNT_/RB_ constants, ``parse_mount_flags``;
- ``mounts``: mountinfo parsing, ``is_mountpoint``, ``umount_all``;
- ``procs``: /proc scanning, ``kill_all``, ``wait_all_gone``, ``terminate_all``;
- ``swap``: ``swapoff_all``;  ``power``: ``reboot_system``;
- ``chroot``: ``chroot_exec`` (aa-chroot), ``pivot`` (aa-pivot).

Nothing is imported here: stage 1/4 import only the module they need, and
ctypes is loaded on the first system call.
"""

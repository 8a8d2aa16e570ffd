"""boot layer of ovis (see DESIGN.md): from the kernel handing over PID 1 to reboot(2).

- :mod:`ovis.boot.stage1`: ``ovis boot`` as PID 1, 66's ``boot`` step by
  step, ending in an exec of s6-svscan.
- :mod:`ovis.boot.stage2`: the default ``rc.init``: start the boot tree, say
  "system ready", keep the boot log.
- :mod:`ovis.boot.shutdown`: stages 3 and 4 (``ovis poweroff|reboot|halt``):
  stop the services in reverse order, kill what is left, unmount, reboot(2).
- :mod:`ovis.boot.config`: init.conf, environment directories, the kernel
  command line; :mod:`ovis.boot.skel`: the default skeleton.
- :mod:`ovis.boot.rescue`: the shell stage 1 offers instead of dying.
- :mod:`ovis.boot.demo`: ``ovis demo``, a boot in namespaces.
"""

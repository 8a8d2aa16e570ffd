"""s6 layer of ovis: s6's on-disk protocol, spoken directly (see DESIGN.md).

- :mod:`ovis.s6.status`: decode ``supervise/status`` (what s6-svstat reads).
- :mod:`ovis.s6.control`: control fifos of s6-supervise and s6-svscan
  (what s6-svc / s6-svscanctl write) and the lock probe of s6-svok.
- :mod:`ovis.s6.events`: ``event/`` fifodir subscriptions and the race-free
  wait of s6-svwait / s6-svlisten1.
- :mod:`ovis.s6.tai`: TAI64N stamps and labels.
- :mod:`ovis.s6.svscan`: s6-svscan's command line (stage 1 and
  ``ovis scandir start`` exec it).

No s6 program is forked here: one fork per transition is what makes s6-rc
slow on big trees, and the protocol is small and stable.
"""

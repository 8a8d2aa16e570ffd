"""ovis: an init system and service manager on top of s6.

s6 does the supervising; ovis only makes decisions (what to start, in which
order, what failed and why) and then gets out of the way.  Nothing in this
package stays resident after a command returns.
"""

__version__ = "0.1.0"

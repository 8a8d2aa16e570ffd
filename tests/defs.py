"""66 frontend templates shared by the end-to-end tests."""

LONGRUN = """\
[Main]
Type = classic
Description = "{name}"
{extra}
[Start]
Execute = ( {run} )
"""

ONESHOT = """\
[Main]
Type = oneshot
Description = "{name}"
{extra}
[Start]
Execute = ( {start} )
"""

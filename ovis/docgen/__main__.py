"""``python3 -m ovis.docgen install [PREFIX]``: man pages and completion, as setup.sh installs them.

``man DIR`` / ``bash FILE`` / ``zsh FILE`` write one part only (the tests and
packagers use these).
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    from ovis.docgen import completion, man

    docs = Path(__file__).resolve().parent.parent.parent / "docs"
    if not argv or argv[0] not in ("install", "man", "bash", "zsh"):
        print("usage: python3 -m ovis.docgen install [PREFIX] | man DIR | bash FILE | zsh FILE",
              file=sys.stderr)
        return 2
    what, rest = argv[0], argv[1:]
    if what == "man":
        man.build(docs, Path(rest[0]))
    elif what in ("bash", "zsh"):
        Path(rest[0]).parent.mkdir(parents=True, exist_ok=True)
        Path(rest[0]).write_text(completion.bash() if what == "bash" else completion.zsh())
    else:
        prefix = Path(rest[0] if rest else "/usr/local")
        pages = man.build(docs, prefix / "share" / "man")
        targets = {prefix / "share" / "bash-completion" / "completions" / "ovis": completion.bash(),
                   prefix / "share" / "zsh" / "site-functions" / "_ovis": completion.zsh()}
        for t, text in targets.items():
            t.parent.mkdir(parents=True, exist_ok=True)
            t.write_text(text)
        print(f"ovis: installed {len(pages)} man pages under {prefix / 'share' / 'man'} and "
              f"completion for bash and zsh")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

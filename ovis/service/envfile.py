"""``KEY=VALUE`` lines, as in 66's ``[Environment]`` section and environment files.

One small parser shared by the frontend ``[Environment]`` section and by
environment directories (``SKEL/environment``, ``-e DIR``), so both accept
exactly the same syntax:

- blank lines and lines whose first non-blank character is ``#`` are ignored
  (a ``#`` later on the line is part of the value: ``COLOR=#fff``);
- ``KEY=VALUE``, spaces around ``=`` and at both ends are dropped;
- ``KEY`` is a shell identifier (``[A-Za-z_][A-Za-z0-9_]*``);
- a value wrapped in double quotes loses them, and ``\\"`` inside becomes ``"``;
- an empty value is allowed (it sets the variable to the empty string);
- ``${var}`` is kept as written: expansion is the job of whoever execs.

What a leading ``!`` means is up to the caller (66 uses it to unexport a
variable); this module keeps it.
"""

from __future__ import annotations

from ovis.errors import DefinitionError

_KEY_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_KEY_CHARS = _KEY_FIRST | frozenset("0123456789")


def is_valid_env_key(key: str) -> bool:
    """True when *key* can be an environment variable name in a shell.

    What ``re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key)`` said (a final
    newline passes, as ``$`` lets it), with str methods: ``re`` costs some 20
    modules, and the 66 reader calls this.
    """
    k = key[:-1] if key.endswith("\n") else key
    return bool(k) and k[0] in _KEY_FIRST and _KEY_CHARS.issuperset(k)


def is_env_ignorable(line: str) -> bool:
    """Blank and comment lines carry no assignment."""
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def unquote(value: str) -> str:
    """Drop one pair of surrounding double quotes; ``\\"`` is ``"`` anywhere.

    66 writes ``cmd_args=-g \\"daemon off;\\"`` unquoted: the escape must
    work outside quotes too, or the daemon gets the backslashes.
    """
    if len(value) >= 2 and value[0] == value[-1] == '"' and value[-2] != "\\":
        value = value[1:-1]
    return value.replace('\\"', '"')


def parse_env_line(path: str, lineno: int, line: str) -> tuple[str, str]:
    """Split one ``KEY=VALUE`` line; raise DefinitionError when it is not one."""
    if "=" not in line:
        raise DefinitionError(path, lineno, line.strip(), "expected KEY=VALUE")
    key, value = line.split("=", 1)
    key = key.strip()
    if not is_valid_env_key(key):
        raise DefinitionError(path, lineno, key or "=", "invalid variable name")
    return key, unquote(value.strip())


def parse_env_lines(path: str, numbered: list[tuple[int, str]]) -> tuple[dict[str, str], dict[str, int]]:
    """Parse ``(lineno, text)`` pairs into (variables in order, line of each).

    A variable set twice is an error: silently keeping one of them hides
    mistakes, and order-dependent overriding is what ``-e`` dirs are for.
    """
    env: dict[str, str] = {}
    where: dict[str, int] = {}
    for lineno, line in numbered:
        if is_env_ignorable(line):
            continue
        key, value = parse_env_line(path, lineno, line)
        if key in env:
            raise DefinitionError(path, lineno, key, f"duplicate variable (first set at line {where[key]})")
        env[key] = value
        where[key] = lineno
    return env, where


def parse_envfile(path: str, text: str | None = None) -> dict[str, str]:
    """Variables of a whole ``KEY=VALUE`` file (text defaults to reading *path*)."""
    if text is None:
        with open(path) as f:
            text = f.read()
    env, _ = parse_env_lines(path, list(enumerate(text.splitlines(), start=1)))
    return env

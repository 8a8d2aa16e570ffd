#!/usr/bin/env bash
# Run the whole test suite.  pytest's "no tests collected" (exit 5) is a failure here.
cd "$(dirname "$0")/.."
python3 -m pytest "$@"
rc=$?
if [ $rc -eq 5 ]; then
    echo "test.sh: pytest collected no tests: failing" >&2
    exit 1
fi
exit $rc

"""Load with a failing dialog store: 20 % of the calls meet a dialog store that refuses their writes;
they are spooled (202) and made into their dialogs by the reconciler. 0 lost, 0 duplicated, as without faults.
Run: `make bench` or `.venv/bin/python -m bench.load_faults [N] [C]`.
"""

from __future__ import annotations

import sys

from bench import load


def main(n: int = 1000, concurrency: int = 50) -> int:
    return load.main(n, concurrency, failing_share=0.2)


if __name__ == "__main__":
    sys.exit(main(*[int(a) for a in sys.argv[1:3]]))

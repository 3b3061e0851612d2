"""``python -m lacrima.docs [--out DIR]``: build the API reference site (see :mod:`lacrima.docs`)."""

from __future__ import annotations

import argparse
import sys

from lacrima.docs import build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lacrima.docs", description=__doc__)
    parser.add_argument("--out", help="where to write the site (default: site/ in the checkout)")
    args = parser.parse_args(argv)
    try:
        target = build(args.out)
    except (RuntimeError, FileNotFoundError) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"site written to {target}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())

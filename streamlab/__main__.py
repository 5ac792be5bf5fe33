"""``python -m streamlab``: the same as the ``streamlab`` command."""

from streamlab.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

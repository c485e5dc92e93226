"""``python -m genmodels.bench``: see :mod:`genmodels.bench.cli`."""

from genmodels.bench.cli import main

if __name__ == "__main__":
    main()

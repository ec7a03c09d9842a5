"""``python -m mine_gan``: the same command line as ``mine-gan``."""

from mine_gan.cli import main

if __name__ == "__main__":
    main()

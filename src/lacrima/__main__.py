"""``python -m lacrima`` runs the command line, as ``lacrima`` does."""

from lacrima.cli import main

if __name__ == "__main__":
    main()

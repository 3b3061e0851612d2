"""``python -m lacrima.cli`` runs the command line (used to start the development worker)."""

from lacrima.cli import main

if __name__ == "__main__":
    main()

import sys

from desktop_app.cli import main

if __name__ == "__main__":  # not when multiprocessing imports this module in the engine process
    sys.exit(main())

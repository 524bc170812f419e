"""`python -m mreg`."""

from mreg.cli.main import main

if __name__ == "__main__":
    main()

"""`python -m meshgen`: the same CLI as the `meshgen` script."""

from meshgen.cli import main

if __name__ == "__main__":
    main(prog_name="meshgen")

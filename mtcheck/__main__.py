from mtcheck.cli import main

main(prog_name="mtcheck")

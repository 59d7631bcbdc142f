from mtcheck.cli import entry

entry()

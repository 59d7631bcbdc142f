from mtcheck.cli.main import entry

entry()

from enxs.cli.main import run

run()

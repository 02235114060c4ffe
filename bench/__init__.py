"""The benchmark of the template and the service it bakes: `python -m bench.run`."""

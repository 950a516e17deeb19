.PHONY: run test bench lint

run:            ## set up, load demo data, serve on http://127.0.0.1:8000
	scripts/run.sh

test:           ## lint, checks, the whole suite on SQLite and PostgreSQL
	scripts/test.sh

bench:          ## benchmarks on SQLite and PostgreSQL (see bench/README.md)
	bench/run.sh

lint:
	.venv/bin/ruff check src tests bench && .venv/bin/ruff format --check src tests bench

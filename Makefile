# make run   installs what is missing, then serves the dashboard on http://127.0.0.1:8501
# make test  installs what is missing, then runs the whole test suite
# make test-fast  skips the tests marked slow (real Triton sweeps, browser)

.PHONY: setup run test test-fast bench

setup:
	@bash scripts/setup.sh

run: setup
	.venv/bin/streamlit run dashboard/app.py

test: setup
	.venv/bin/python -m pytest

test-fast: setup
	.venv/bin/python -m pytest -m "not slow"

bench: setup
	.venv/bin/python bench/run.py

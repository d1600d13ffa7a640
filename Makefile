# gan-diagnose: `make demo` and `make test` bootstrap .venv/ themselves (uv when it can, pip otherwise).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
RUNS ?= runs

.PHONY: demo test test-fast venv browser-deps clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv >/dev/null 2>&1 || echo "uv unavailable: installing with pip"
	@if [ -x $(BIN)/uv ]; then \
		$(BIN)/uv pip install -q --python $(BIN)/python -e '.[dev]'; \
	else \
		$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'; \
	fi
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/diagnose run --exp upsample_vs_convtranspose --quick --overwrite --out $(RUNS)

# Real-browser dashboard tests need Debian's chromium + chromium-driver: installed when missing and
# we are root with apt-get; otherwise those tests skip with a reason.
browser-deps:
	@if ! command -v chromedriver >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing chromium + chromium-driver for the browser tests"; \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
				|| echo "could not install chromium: browser tests will be skipped"; \
		else \
			echo "chromium-driver missing and not root: browser tests will be skipped"; \
		fi; \
	fi

test: $(STAMP) browser-deps
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not browser" -p no:cacheprovider

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

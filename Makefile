# Two commands on a fresh machine:
#   make book   — set up (.venv, pinned requirements, Debian packages) and build the website
#   make test   — set up, build, and run every test (library, notebooks, exercises, built site)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JB_FLAGS := --builder html -n -W --keep-going
CHROMIUM := /usr/lib/chromium/chromium
FMNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

.PHONY: help setup system-deps classifier book student stamp release autograde feedback grades grading-time \
        test test-fast site-test lint strip vendor bench freeze clean

help:
	@echo "make book     set up and build the website into _build/html (notebooks executed)"
	@echo "make test     set up, build, and run every test"
	@echo "make student  write the student edition (solutions removed, by nbgrader) into student/"
	@echo "make release  nbgrader course folder _build/nbgrader/: one exercises assignment per chapter"
	@echo "make autograde / feedback / grades   grade _build/nbgrader/submitted/<student>/<assignment>/"
	@echo "make lint     ruff;   make strip: strip notebook outputs;   make bench: benchmarks"

# The pinned requirements are installed by uv (about 11 s here, where pip took about a minute).
# torch comes first, from pip: pip takes it from the machine's own wheels where pip's configuration
# names them (the CPU build on the course's machines) or else the matching build from PyPI, and uv
# keeps it. If uv fails, pip installs everything, as it did before.
TORCH_PIN := $(shell grep -m1 '^torch==' requirements.txt)
UV_PIN := uv==0.13.9
$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python >= 3.10 is needed"' \
	  || { echo "error: need Python >= 3.10 as '$(PYTHON)' (make PYTHON=python3.11 ...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(UV_PIN) '$(TORCH_PIN)'
	$(BIN)/python -m uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.txt \
	  || { echo "uv could not install requirements.txt: installing with pip"; \
	       $(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt; }
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (genmodels)" >/dev/null
	touch $(STAMP)

setup: $(STAMP) system-deps

# Debian packages: the real Fashion-MNIST files and Chromium for the site tests.
system-deps:
	@missing=""; \
	[ -f $(FMNIST) ] || missing="$$missing dataset-fashion-mnist"; \
	[ -x $(CHROMIUM) ] || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "note: Debian packages missing:$$missing."; \
	    echo "  Install them (sudo apt-get install$$missing), or: Fashion-MNIST is then downloaded"; \
	    echo "  into ~/.cache/genmodels on first use, and the site tests need Chromium."; \
	  fi; \
	fi

# Each phase prints its time (tools/timed.sh); the notebooks are executed two at a time into
# Jupyter Book's cache, re-executed only when they or what they depend on changed.
book:
	@tools/timed.sh --reset
	@tools/timed.sh set-up $(MAKE) --no-print-directory setup
	@tools/timed.sh classifier $(MAKE) --no-print-directory classifier
	@tools/timed.sh notebooks $(BIN)/python tools/execute_notebooks.py
	@tools/timed.sh build $(BIN)/jupyter-book build . $(JB_FLAGS)
	@echo "website: _build/html/index.html"

# The Fashion-MNIST classifier behind the Fréchet distances is trained once (about a minute on
# a CPU) and cached in ~/.cache/genmodels; doing it here keeps it out of notebook timings.
classifier: $(STAMP) system-deps
	$(BIN)/python -c "from genmodels.measure.classifier import load_fashion_classifier as f; f()"

# The chapter edition students read and run: nbgrader's preprocessors on the stamped chapter.
# student/ is committed: the site links it for download, and its launch buttons (Colab, Binder)
# open it from the repository; tests/test_student_edition.py fails when it is out of date, so run
# this after changing a chapter and commit student/ with it. An exercise without a difficulty
# line counts 1 point here; `make release` and tests/test_nbgrader_cells.py refuse it.
student: $(STAMP)
	$(BIN)/python tools/student_edition.py --out student --default-points 1

# nbgrader cell metadata, stamped on book/ch*.ipynb from the exercise convention (CONTRIBUTING.md).
stamp: $(STAMP)
	$(BIN)/python tools/nbgrader_cells.py --write

# Grading a class with nbgrader (book/appendix_instructors.md): the course folder _build/nbgrader/
# holds one assignment per chapter (its exercises notebook); submissions go into
# _build/nbgrader/submitted/<student>/<assignment>/.
COURSE := _build/nbgrader
release: $(STAMP)
	$(BIN)/python tools/release.py --course $(COURSE)

autograde: $(STAMP)
	$(BIN)/python tools/grade.py autograde --course $(COURSE)

feedback: $(STAMP)
	$(BIN)/python tools/grade.py feedback --course $(COURSE)

grades: $(STAMP)
	$(BIN)/python tools/grade.py grades --course $(COURSE)

# Autograde every chapter's reference solutions in a scratch course; prints the time of each.
grading-time: $(STAMP)
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python tools/grade.py time

# Two pytest workers on two cores: one math thread each, or PyTorch oversubscribes the CPU.
# The notebooks are executed once, by `make book`; the tests read that execution from the cache.
PYTEST := env OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --dist loadscope -p no:cacheprovider
test: book
	@tools/timed.sh tests $(PYTEST) tests
	@tools/timed.sh --summary

# The library's tests without the built book: gets the data and the classifier they need.
test-fast: setup classifier
	$(PYTEST) -m "not site and not slow and not book" tests

lint: $(STAMP)
	$(BIN)/ruff check lib tests tools book

strip: $(STAMP)
	$(BIN)/python tools/strip_outputs.py book

vendor:
	bash tools/vendor_assets.sh

bench: $(STAMP)
	$(MAKE) --no-print-directory classifier
	GENMODELS_PROGRESS=0 $(BIN)/python -m genmodels.bench --publish $(BENCH_ARGS)

freeze: $(STAMP)
	@{ sed -n '1,3p' requirements.txt; $(BIN)/pip freeze --exclude-editable | grep -v '^genmodels\|^uv==' \
	  | sed 's/^torch==\(.*\)+cpu/torch==\1/'; echo "-e ."; } > requirements.txt.new && mv requirements.txt.new requirements.txt

clean:
	rm -rf _build

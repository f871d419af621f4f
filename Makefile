# The two commands a new user runs (both install whatever is missing first):
#   make demo   # train + evaluate ConvNeXt Mask R-CNN and UperNet on generated demo data (CPU)
#   make test   # the whole test suite
PYTHON ?= .venv/bin/python
# test processes: the tools the tests start use one math thread each (tests/helpers.py)
JOBS ?= 2

.PHONY: install test demo
install:
	bash tools/install.sh

test: install
	$(PYTHON) -m pytest -n $(JOBS) --dist loadfile

demo: install
	$(PYTHON) tools/demo.py

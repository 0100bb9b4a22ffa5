# facewatch developer commands. `make example` and `make test` are the two set-up
# commands in the README; both provision ONNX Runtime first when it is missing.

ORT_VERSION := 1.32.0
ORT_DIR     := .ort
ORT_LIB     := $(ORT_DIR)/libonnxruntime.so.$(ORT_VERSION)
PYTHON      ?= python3
CARGO       ?= cargo

.PHONY: all ort example watch-example test lint bench clean-ort

all: example

# Extract libonnxruntime from PyPI's onnxruntime wheel (pinned) into .ort/, where
# facewatch looks for it. Only pip and the package registry are needed.
ort: $(ORT_LIB)

$(ORT_LIB):
	@mkdir -p $(ORT_DIR)/wheel
	$(PYTHON) -m pip download --quiet --no-deps --only-binary=:all: \
		--dest $(ORT_DIR)/wheel onnxruntime==$(ORT_VERSION)
	$(PYTHON) -c "import glob, pathlib, zipfile; \
		wheel = glob.glob('$(ORT_DIR)/wheel/onnxruntime-$(ORT_VERSION)-*.whl')[0]; \
		zf = zipfile.ZipFile(wheel); \
		name = next(n for n in zf.namelist() if n.startswith('onnxruntime/capi/libonnxruntime.so.')); \
		pathlib.Path('$(ORT_LIB)').write_bytes(zf.read(name))"
	@rm -rf $(ORT_DIR)/wheel
	@echo "ONNX Runtime $(ORT_VERSION) is in $(ORT_LIB)"

# Score the bundled example photos against the bundled references.
example: ort
	$(CARGO) run --release --quiet -- scan \
		--reference tests/photos/reference tests/photos/images

# The whole test suite: unit, render, integration, parity and end-to-end tests.
test: ort
	$(CARGO) test --release

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

# Compare `facewatch scan` with OpenCV's own pipeline on a generated corpus; see
# docs/benchmark.md. Installs opencv-python-headless with pip when it is missing.
bench: ort
	$(CARGO) build --release --quiet
	$(PYTHON) benches/run.py

clean-ort:
	rm -rf $(ORT_DIR)

# Watch a scratch copy of the bundled photos in the dashboard; copy more images into
# the folder it names to see them arrive.
watch-example: ort
	$(CARGO) build --release --quiet
	rm -rf target/watch-example && mkdir -p target/watch-example/renders
	cp tests/photos/images/* target/watch-example/renders/
	target/release/facewatch watch target/watch-example/renders --reference tests/photos/reference

#!/usr/bin/env bash
# Builds the Python package ax_engine into build/python (the C++ extension beside the package's
# Python files) and prints how to import it. Installs the Debian packages it needs first.
#   bash scripts/build-python.sh && export PYTHONPATH=$PWD/build/python
#   python3 -c "import ax_engine; print(ax_engine.Engine('models/ax-code-15m').generate('def f():'))"
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DAX_PYTHON=ON
cmake --build build -j "$(nproc)" --target ax_python
echo "ax_engine built: export PYTHONPATH=$PWD/build/python (python3 is Debian's /usr/bin/python3)"

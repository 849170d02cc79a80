#!/usr/bin/env bash
# Installs everything a fresh Debian 12 machine needs to build and test AX Engine.
# Idempotent: packages already present are skipped by apt-get.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build ccache pkg-config git
  clang libclang-rt-14-dev            # libFuzzer targets and sanitizers
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev                  # JSON (configs, tokenizer.json, HTTP bodies)
  libboost-dev                        # Boost.Asio + Boost.Beast: the HTTP server
  libcpp-httplib-dev                  # HTTP client (bench run --url, the server tests, ax-engine pull)
  libssl-dev                          # sha256 of model files (bench manifests, pull), https:// for pull
  ca-certificates                     # the hub's TLS certificate checked by ax-engine pull
  libpcre2-dev                        # Unicode-aware pre-tokenizer regexes
  libicu-dev                          # Unicode normalization (NFC) for tokenizers
  libxxhash-dev                       # prefix-cache block hashes
  libcli11-dev                        # command-line parsing
  libfmt-dev                          # string formatting (g++ 12 has no <format>)
  python3-jinja2                      # writes chat-template goldens (not needed at run time)
  python3-dev python3-pybind11        # the Python package ax_engine (python/)
  python3-numpy python3-pytest        # its embeddings (numpy arrays) and its tests
  chromium                            # the web console's tests (headless, driven by puppeteer-core)
  tmux                                # the test of `ax-engine top` (a terminal to draw in)
)
# Node.js 20 + npm come with the machine image; install Debian's only where none is present.
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

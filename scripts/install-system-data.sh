#!/bin/sh
# Install Debian's Fashion-MNIST package where apt is available and we run as root;
# elsewhere say how, and go on (MNIST comes from the Python package index instead).
if [ -d /usr/share/datasets/fashion-mnist ]; then
    exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing Debian package dataset-fashion-mnist"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1; } \
        || echo "note: could not install dataset-fashion-mnist; Fashion-MNIST needs 'trainlab data fetch fashion-mnist --from DIR'"
else
    echo "note: skipping Debian's dataset-fashion-mnist (needs apt and root); for Fashion-MNIST run"
    echo "      'sudo apt-get install dataset-fashion-mnist' or 'trainlab data fetch fashion-mnist --from DIR'"
fi
exit 0

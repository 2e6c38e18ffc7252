#!/bin/sh
# Headless Chromium for the test that opens report.html in a browser (the test skips without it).
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing Debian package chromium (for the report's browser test)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; } \
        || echo "note: could not install chromium; the browser test will be skipped"
else
    echo "note: chromium not installed (needs apt and root); the browser test will be skipped"
fi
exit 0

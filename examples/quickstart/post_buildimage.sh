#!/bin/sh
# Runs inside the build container after the features; what it writes is in the image.
set -eu
echo "baked into the image by post_buildimage at $(date -u +%Y-%m-%dT%H:%M:%SZ)" > /etc/hello/post

#!/bin/sh
# Runs inside the build container before the features are applied.
set -eu
mkdir -p /etc/hello
echo "prepared by pre_buildimage" > /etc/hello/pre

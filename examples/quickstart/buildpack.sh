#!/bin/sh
# The module's buildpack: runs in a fresh container from the app's image, in the
# module's checkout (mounted at the module's path), as the checkout's owner.
set -eu
echo "building $(pwd) as uid $(id -u)"
mkdir -p dist
{
  echo "<h1>hello from lxpack</h1>"
  echo "<p>built in container $(hostname) from the app's image:</p>"
  echo "<pre>$(cat /etc/hello/pre /etc/hello/post)</pre>"
  echo "<p>source: $(cat src/message.txt)</p>"
} > dist/index.html
echo "wrote $(pwd)/dist/index.html ($(wc -c < dist/index.html) bytes)"

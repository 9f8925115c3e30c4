#!/usr/bin/env bash
# System packages the tests need (npm test's "pretest"): redis-server for the Redis store and queue
# tests, Mesa's software Vulkan driver (lavapipe) from bookworm-backports so ONNX Runtime's WebGPU
# provider runs on a CPU-only machine, and a C compiler with libjpeg-turbo's headers so that
# pretest's `npm run build` builds the libjpeg-turbo decoder (native/), which CI requires. Idempotent: does nothing when both are present. Installs with
# apt as root on Debian; otherwise prints one line saying what to install and exits non-zero.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# Dawn needs a Mesa 25.x lavapipe; bookworm's own 22.x lacks a feature it requires.
lvp_version() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true; }
case "$(lvp_version)" in
  2[5-9].*|[3-9][0-9].*) [ -e /usr/share/vulkan/icd.d/lvp_icd.json ] || need+=(mesa-vulkan-drivers) ;;
  *) need+=(mesa-vulkan-drivers) ;;
esac
ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1' || need+=(libvulkan1)
command -v cc >/dev/null 2>&1 || need+=(gcc)
[ -e /usr/include/jpeglib.h ] || need+=(libjpeg62-turbo-dev)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 || ! grep -q bookworm /etc/os-release 2>/dev/null; then
  echo "tests need: redis-server, libvulkan1, mesa-vulkan-drivers >= 25, gcc and libjpeg62-turbo-dev (Debian: apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1 redis-server gcc libjpeg62-turbo-dev); missing: ${need[*]}" >&2
  exit 1
fi

src=/etc/apt/sources.list.d/backbones-backports.sources
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' >"$src"
fi
echo "installing for the tests: ${need[*]} (apt, bookworm-backports for Mesa)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 redis-server gcc libjpeg62-turbo-dev >/dev/null

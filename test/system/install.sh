#!/usr/bin/env bash
# System packages the tests need (npm test's "pretest"): redis-server for the Redis store and queue
# tests, Mesa's software Vulkan driver (lavapipe) from bookworm-backports so ONNX Runtime's WebGPU
# provider runs on a CPU-only machine, and prometheus for promtool (serve's /metrics is checked with
# `promtool check metrics`). Idempotent: does nothing when all are present. Installs with
# apt as root on Debian; otherwise prints one line saying what to install and exits non-zero.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# Dawn needs a Mesa 25.x lavapipe; bookworm's own 22.x lacks a feature it requires.
lvp_version() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true; }
case "$(lvp_version)" in
  2[5-9].*|[3-9][0-9].*) [ -e /usr/share/vulkan/icd.d/lvp_icd.json ] || need+=(mesa-vulkan-drivers) ;;
  *) need+=(mesa-vulkan-drivers) ;;
esac
ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1' || need+=(libvulkan1)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 || ! grep -q bookworm /etc/os-release 2>/dev/null; then
  echo "tests need: redis-server, promtool (Debian package prometheus), libvulkan1 and mesa-vulkan-drivers >= 25 (Debian: apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1 redis-server prometheus); missing: ${need[*]}" >&2
  exit 1
fi

src=/etc/apt/sources.list.d/backbones-backports.sources
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' >"$src"
fi
echo "installing for the tests: ${need[*]} (apt, bookworm-backports for Mesa)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 redis-server >/dev/null
# Only promtool is used; the package's server is never started by the tests.
command -v promtool >/dev/null 2>&1 || apt-get install -y -qq --no-install-recommends prometheus >/dev/null

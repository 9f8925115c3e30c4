#!/usr/bin/env bash
# System packages the tests need (npm test's "pretest"). Idempotent: does nothing when all are present.
# Installs with apt as root on Debian bookworm; otherwise prints one line saying what to install and
# exits non-zero. One row per package: what is missing when, and why the tests need it.
set -euo pipefail

need=()       # from bookworm-backports
need_main=()  # from bookworm itself
# Redis store and queue tests.
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# Lavapipe, so ONNX Runtime's WebGPU provider runs on a CPU-only machine. Dawn needs Mesa 25.x;
# bookworm's own 22.x lacks a feature it requires.
lvp_version() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true; }
case "$(lvp_version)" in
  2[5-9].*|[3-9][0-9].*) [ -e /usr/share/vulkan/icd.d/lvp_icd.json ] || need+=(mesa-vulkan-drivers) ;;
  *) need+=(mesa-vulkan-drivers) ;;
esac
ldconfig -p 2>/dev/null | grep 'libvulkan.so.1' >/dev/null || need+=(libvulkan1)
# promtool checks serve's /metrics (the package's server is never started by the tests).
command -v promtool >/dev/null 2>&1 || need_main+=(prometheus)
# qemu-x86_64 -cpu Haswell-v4 runs the int8 tests on emulated AVX2 without VNNI (test/int8-cpu.test.ts);
# bookworm's 7.2 is what that test was written against.
if [ "$(uname -m)" = x86_64 ]; then command -v qemu-x86_64 >/dev/null 2>&1 || need_main+=(qemu-user); fi
# A C compiler, libjpeg-turbo's and Little CMS' headers: pretest's `npm run build` builds the
# libjpeg-turbo decoder (native/), with the sRGB-profile check that lets it take ICC-tagged JPEGs.
command -v cc >/dev/null 2>&1 || need_main+=(gcc)
[ -e /usr/include/jpeglib.h ] || need_main+=(libjpeg62-turbo-dev)
[ -e /usr/include/lcms2.h ] || need_main+=(liblcms2-dev)

all=("${need[@]}" "${need_main[@]}")
[ ${#all[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 || ! grep -q bookworm /etc/os-release 2>/dev/null; then
  echo "tests need: redis-server, libvulkan1 and mesa-vulkan-drivers >= 25 (bookworm-backports), prometheus (promtool), qemu-user (x86-64), gcc, libjpeg62-turbo-dev and liblcms2-dev; missing: ${all[*]}" >&2
  exit 1
fi

src=/etc/apt/sources.list.d/backbones-backports.sources
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' >"$src"
fi
echo "installing for the tests: ${all[*]} (apt; bookworm-backports for Mesa)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
if [ ${#need[@]} -gt 0 ]; then apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 redis-server >/dev/null; fi
if [ ${#need_main[@]} -gt 0 ]; then apt-get install -y -qq --no-install-recommends "${need_main[@]}" >/dev/null; fi

#!/usr/bin/env bash
# Runs a command with TMPDIR set to a fresh folder and removes that folder afterwards,
# whatever the outcome: every temporary file of the tests (and of the CLI runs they
# start) goes there, so a test run leaves nothing behind in /tmp.
set -u
dir="$(mktemp -d "${TMPDIR:-/tmp}/backbones-test-XXXXXX")"
trap 'rm -rf "$dir"' EXIT
TMPDIR="$dir" "$@"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's first command: install what is missing, build, and run the
# main job. For now that is a demo: profile the bundled test program
# `split` (CPU split 6:3:1 across three functions), print its flame graph as
# folded text and its top functions, and say where the database is.
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || die "run as root: ember loads BPF programs (sudo $0)"
ember_install "${EMBER_BUILD_PACKAGES[@]}"
ember_build build

EMBER="$EMBER_ROOT/build/profiler/ember"
DB="$EMBER_ROOT/demo.db"
say "profiling the demo program for 3 seconds"
"$EMBER" record -F 499 -o "$DB" -- "$EMBER_ROOT/build/tests/testprogs/split" --seconds 3
echo
echo "Flame graph (folded stacks: process;caller;...;leaf count):"
"$EMBER" report "$DB" --format folded
echo
"$EMBER" report "$DB" --format top --limit 10
echo
echo "Database: $DB"
echo "Profile anything:  $EMBER record -o out.db -- COMMAND ARGS..."
echo "                   $EMBER report out.db --format folded|top|pprof|speedscope"

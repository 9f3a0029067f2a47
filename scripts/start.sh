#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's first command: install what is missing, build, and start the
# agent: every CPU sampled at 19 Hz into ember-agent.db (continued if it
# exists), with the web UI at the printed URL (http://127.0.0.1:7478/ unless
# EMBER_LISTEN says otherwise). Runs in the foreground until Ctrl-C, which
# ends it with a final flush. Extra arguments go to `ember agent`.
#   ./scripts/start.sh --demo   the previous demo instead: profile the
#                               bundled program `split` and print its profile
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || die "run as root: ember loads BPF programs (sudo $0)"
ember_install "${EMBER_BUILD_PACKAGES[@]}"
ember_build build

EMBER="$EMBER_ROOT/build/profiler/ember"
if [ "${1:-}" = "--demo" ]; then
  DB="$EMBER_ROOT/demo.db"
  say "profiling the demo program for 3 seconds"
  "$EMBER" record -F 499 -o "$DB" -- "$EMBER_ROOT/build/tests/testprogs/split" --seconds 3
  echo
  echo "Flame graph (folded stacks: process;caller;...;leaf count):"
  "$EMBER" report "$DB" --format folded
  echo
  "$EMBER" report "$DB" --format top --limit 10
  echo
  echo "Database: $DB; look at it in the browser: $EMBER serve --db $DB"
  exit 0
fi

DB="${EMBER_DB:-$EMBER_ROOT/ember-agent.db}"
say "starting the agent (Ctrl-C stops it); database $DB"
exec "$EMBER" agent --db "$DB" --listen "${EMBER_LISTEN:-127.0.0.1:7478}" "$@"

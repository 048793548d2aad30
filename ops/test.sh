#!/usr/bin/env bash
# The whole suite: the type check, then every tests/**/*.test.ts file with
# node's test runner (Node 20 expands no globs itself, so find lists them).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== type check (tsc --noEmit)"
npx tsc --noEmit -p .

mapfile -t files < <(find tests -name '*.test.ts' | sort)
echo "== ${#files[@]} test files"
# Files run two at a time: they start real nats-servers, nodes and sandboxes,
# which a 2-core machine serves better than full parallelism.
exec node --import tsx --test --test-concurrency=2 --test-timeout=600000 "${files[@]}"

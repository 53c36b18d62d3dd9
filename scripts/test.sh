#!/usr/bin/env bash
# The whole test suite: build, typecheck, then every test file with node's test runner (tsx for TypeScript).
# Node 20 does not discover .ts test files by itself, so the files are listed here.
set -euo pipefail
cd "$(dirname "$0")/.."
# A fresh clone: install first.
[ -d node_modules ] || npm run --silent setup
npm run --silent build
npm run --silent typecheck
node --import tsx scripts/check-deps.ts
files=$(ls test/unit/*.test.ts test/e2e/*.test.ts 2>/dev/null)
exec node --import tsx --test --test-concurrency=2 --test-timeout=300000 $files

#!/usr/bin/env bash
# typed/run.sh checks the typed protocol end to end; e2e/run.sh calls it
# (after npm ci), and it runs alone too: bash e2e/typed/run.sh.
#
#   1. examples/demo/static/protocol.d.ts is what cmd/rushws-ts writes from
#      the demo's Go declarations (go generate ./examples/demo fixes it).
#   2. rushws-ts writes e2e/typed/gen/app.d.ts from e2e/typed/app, and
#      tsc --noEmit checks e2e/typed/typed.ts, which uses it with the typed
#      client (client/rushws.d.ts): its @ts-expect-error lines prove that
#      wrong event names, data shapes and ack types are errors.
#   3. tsc --checkJs checks the demo page (examples/demo/static/demo.js,
#      plain JS typed with JSDoc) against the generated types.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
tsc=e2e/node_modules/typescript/bin/tsc
if [ ! -f "$tsc" ]; then
	(cd e2e && npm ci --no-audit --no-fund)
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/rushws-ts" ./cmd/rushws-ts

status=0
if "$tmp/rushws-ts" -check -o examples/demo/static/protocol.d.ts ./examples/demo; then
	echo "ok   examples/demo/static/protocol.d.ts is up to date"
else
	status=1
fi
"$tmp/rushws-ts" -o e2e/typed/gen/app.d.ts ./e2e/typed/app
if node "$tsc" -p e2e/typed/tsconfig.json; then
	echo "ok   tsc: e2e/typed/typed.ts on the generated e2e/typed/gen/app.d.ts"
else
	echo "FAIL tsc: e2e/typed/typed.ts" >&2
	status=1
fi
if node "$tsc" -p e2e/typed/tsconfig.demo.json; then
	echo "ok   tsc --checkJs: examples/demo/static/demo.js on its generated types"
else
	echo "FAIL tsc --checkJs: examples/demo/static/demo.js" >&2
	status=1
fi
exit "$status"

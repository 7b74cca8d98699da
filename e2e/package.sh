#!/usr/bin/env bash
# package.sh tests client/ as the npm package @rushws/client, the way a
# frontend meets it; e2e/run.sh calls it with the built test server:
#
#	RUSHWS_E2E_SERVER=/tmp/testserver bash e2e/package.sh
#
#   1. npm pack client/: the tarball holds exactly package.json, LICENSE,
#      rushws.js and rushws.d.ts, at the version client.PackageVersion says.
#   2. npm ci in e2e/vite (vite, typescript and ws, as locked), then
#      npm install --no-save of the tarball: a real install, not a link,
#      and nothing in the repository changes.
#   3. tsc --noEmit on the app's TypeScript, once with a bundler's module
#      resolution (src/main.ts) and once with Node's (types-node.mts): the
#      package's "exports" and "types" lead TypeScript to the declarations,
#      and their @ts-expect-error lines prove mistakes are caught.
#   4. vite build of the app into a temporary folder.
#   5. e2e/package.mjs: the test server serves the build under /app/ and
#      its own /rushws.js; the served file equals the installed one; a Node
#      ESM script (e2e/vite/node.mjs) and the built page in Chromium each
#      connect and exchange events with acks both ways; a page without a
#      build step (public/plain.html, an import map to /rushws.js) too.
# It fails, never skips, when a step cannot run.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
server=${RUSHWS_E2E_SERVER:-}
[ -n "$server" ] || { echo "package.sh: set RUSHWS_E2E_SERVER to the built e2e/testserver binary (bash e2e/run.sh does)" >&2; exit 2; }

echo "=== @rushws/client as a package: npm pack, a Vite app and a Node script (e2e/vite), Chromium"
# playwright-core for package.mjs, from e2e's own lockfile (run.sh has
# installed it already; this is for running package.sh by itself).
[ -d e2e/node_modules/playwright-core ] || (cd e2e && npm ci --no-audit --no-fund)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. The tarball, and what is in it.
(cd client && npm pack --json --pack-destination "$tmp" >"$tmp/pack.json")
version=$(sed -n 's/^const PackageVersion = "\(.*\)"$/\1/p' client/package.go)
tarball=$(node -e '
	const [p] = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
	const files = p.files.map((f) => f.path).sort().join(" ");
	const want = "LICENSE package.json rushws.d.ts rushws.js";
	if (files !== want) { console.error(`package.sh: the tarball holds ${files}; want ${want}`); process.exit(1); }
	if (p.name !== "@rushws/client") { console.error(`package.sh: the package is named ${p.name}; want @rushws/client`); process.exit(1); }
	if (p.version !== process.argv[2]) { console.error(`package.sh: the package version is ${p.version} but client.PackageVersion is ${process.argv[2]}`); process.exit(1); }
	console.log(p.filename);
' "$tmp/pack.json" "$version")
echo "  packed $tarball ($(wc -c <"$tmp/$tarball") bytes): LICENSE package.json rushws.d.ts rushws.js"

# 2. The app's own packages, exactly as locked, then the tarball.
cd e2e/vite
for pkg in vite typescript ws; do
	if [ ! -d "node_modules/$pkg" ]; then
		npm ci --no-audit --no-fund
		break
	fi
done
npm install --no-save --no-audit --no-fund --ignore-scripts "$tmp/$tarball" >/dev/null
if [ -L node_modules/@rushws/client ] || [ ! -f node_modules/@rushws/client/rushws.js ]; then
	echo "package.sh: node_modules/@rushws/client is not an installed copy of the tarball" >&2
	exit 1
fi
cmp -s node_modules/@rushws/client/rushws.js "$root/client/rushws.js" || { echo "package.sh: the installed rushws.js differs from client/rushws.js" >&2; exit 1; }
echo "  installed @rushws/client $version from the tarball into e2e/vite"

# 3. The types, resolved through the package as a bundler and as Node do.
node node_modules/typescript/bin/tsc --noEmit -p tsconfig.json
node node_modules/typescript/bin/tsc --noEmit -p tsconfig.node.json
echo "  tsc --noEmit: src/main.ts (moduleResolution bundler) and types-node.mts (NodeNext)"

# 4. The production build.
node node_modules/vite/bin/vite.js build --base=./ --outDir "$tmp/dist" --emptyOutDir --logLevel warn
echo "  vite build: $(cd "$tmp/dist" && find . -type f | sort | tr '\n' ' ')"
cd "$root"

# 5. Against the server, from Node and from Chromium.
SERVER_BIN="$server" APP_DIR="$tmp/dist" node e2e/package.mjs

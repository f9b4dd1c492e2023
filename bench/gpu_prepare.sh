#!/usr/bin/env bash
# Lay out .gpu/ (git-ignored) for bench/gpu_suite.py on a machine that has only this checkout:
#   .gpu/datasets/  MNIST/raw/*.gz and cifar10-jpg.tar.gz, copied from ../shared/datasets
#   .gpu/peers/     airbench94_muon.py (KellerJordan/cifar10-airbench) and timm's train.py with its timm/ package
#                   (huggingface/pytorch-image-models), exported from bare git checkouts; VERSIONS names their commits
#   .gpu/commit     this checkout's commit, for the suite's table where the copy carries no .git
# Usage: bench/gpu_prepare.sh [SHARED_DATASETS]
# Peer checkouts come from $AIRBENCH_GIT and $TIMM_GIT (bare git directories; the defaults are where the `fetch`
# tool puts github:KellerJordan/cifar10-airbench and github:huggingface/pytorch-image-models). A missing peer is
# reported and left out: the suite then skips its column.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
shared=${1:-$root/../shared/datasets}
airbench_git=${AIRBENCH_GIT:-/work/.mirror/KellerJordan+cifar10-airbench/repo}
timm_git=${TIMM_GIT:-/work/.mirror/huggingface+pytorch-image-models/repo}
gpu=$root/.gpu

[[ -f $shared/cifar10-jpg.tar.gz && -d $shared/MNIST/raw ]] ||
  { echo "error: $shared has no cifar10-jpg.tar.gz and MNIST/raw/: pass the datasets folder" >&2; exit 1; }

rm -rf "$gpu/datasets" "$gpu/peers"
mkdir -p "$gpu/datasets/MNIST/raw" "$gpu/peers"
cp "$shared"/MNIST/raw/*.gz "$gpu/datasets/MNIST/raw/"
cp "$shared/cifar10-jpg.tar.gz" "$gpu/datasets/"

export_peer() {  # export_peer GIT_DIR NAME PATH...: the named paths of the checkout's HEAD into .gpu/peers/NAME
  local git_dir=$1 name=$2
  shift 2
  if ! git --git-dir="$git_dir" rev-parse --verify -q HEAD >/dev/null 2>&1; then
    echo "warning: no checkout of $name at $git_dir: its column will be skipped" >&2
    return
  fi
  mkdir -p "$gpu/peers/$name"
  git --git-dir="$git_dir" archive HEAD "$@" | tar -x -C "$gpu/peers/$name"
  echo "$name $(git --git-dir="$git_dir" rev-parse HEAD)" >>"$gpu/peers/VERSIONS"
}
export_peer "$airbench_git" cifar10-airbench airbench94_muon.py
export_peer "$timm_git" pytorch-image-models train.py timm

git -C "$root" rev-parse HEAD >"$gpu/commit" 2>/dev/null || rm -f "$gpu/commit"

tracked=$(git -C "$root" ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
carried=$(du -sb "$gpu" | cut -f1)
total=$(( (tracked + carried) / 1048576 ))
echo "prepared $gpu: $(( carried / 1048576 )) MiB carried + $(( tracked / 1048576 )) MiB tracked = $total MiB (limit 64)"
(( total < 64 )) || { echo "error: over the 64 MiB a device call takes" >&2; exit 1; }

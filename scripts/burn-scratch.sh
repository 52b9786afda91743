# Sourced by scripts/gpu-bench.sh and scripts/test-wgpu.sh, not run.
#
# burn_scratch_copy REPO BACKEND DIR: copies REPO's committed tree (git archive
# HEAD) into DIR and adds burn's BACKEND feature (cuda, wgpu) to the `burn`
# dependency there. Its crates are not in this repository's Cargo.lock, so a build
# in DIR resolves them (network needed, unless they are in cargo's cache).
burn_scratch_copy() {
    local repo=$1 backend=$2 dir=$3
    # -m: the files get the time of extraction, not the commit's, so that cargo never
    # takes an earlier build of another commit in the same target directory for fresh.
    git -C "$repo" archive HEAD | tar -x -m -C "$dir"
    # burn = { ..., features = ["std", "flex", "autodiff", "optim"], ... } gets the backend.
    sed -i "s/features = \[\"std\", \"flex\", \"autodiff\", \"optim\"\]/features = [\"std\", \"flex\", \"autodiff\", \"optim\", \"$backend\"]/" "$dir/Cargo.toml"
    grep -q "\"optim\", \"$backend\"" "$dir/Cargo.toml" || {
        echo "could not add the $backend feature to burn" >&2
        return 1
    }
}

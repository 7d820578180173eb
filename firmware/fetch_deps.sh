#!/usr/bin/env bash
# Fetch the third-party C sources the firmware core builds against into firmware/third_party/
# (git-ignored, never committed):
#
#   CMSIS-DSP  1.10.3   from its PyPI source distribution  -> third_party/CMSIS-DSP/{Include,
#                                                             PrivateInclude,Source}
#   CMSIS-Core 5.4.0-5  from the xPack npm package          -> third_party/CMSIS-Core/Include
#
# Both come from package registries (PyPI, npm), so this works where only registries are
# reachable. Idempotent: a component whose stamp file matches the pinned version is skipped.
#
#   firmware/fetch_deps.sh          # fetch what is missing
#   firmware/fetch_deps.sh --force  # fetch again
set -euo pipefail

CMSIS_DSP_VERSION="1.10.3"
CMSIS_CORE_PACKAGE="@xpack-3rd-party/arm-cmsis-core-m"
CMSIS_CORE_VERSION="5.4.0-5"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
THIRD="$HERE/third_party"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1

if [[ -x "$ROOT/.venv/bin/pip" ]]; then
    PIP="$ROOT/.venv/bin/pip"
else
    PIP="pip"
fi

# up_to_date DIR VERSION: the component in DIR was fetched at VERSION.
up_to_date() {
    [[ $FORCE -eq 0 && -f "$1/.version" && "$(cat "$1/.version")" == "$2" ]]
}

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

fetch_cmsis_dsp() {
    local dest="$THIRD/CMSIS-DSP"
    if up_to_date "$dest" "$CMSIS_DSP_VERSION"; then
        echo "CMSIS-DSP $CMSIS_DSP_VERSION: already in $dest"
        return
    fi
    echo "CMSIS-DSP $CMSIS_DSP_VERSION: downloading the sdist from PyPI"
    # --no-binary for cmsisdsp only: its build dependencies may still come as wheels, and
    # --no-build-isolation avoids installing them at all (pip only reads the metadata).
    "$PIP" download --quiet --no-deps --no-binary cmsisdsp --no-build-isolation \
        "cmsisdsp==$CMSIS_DSP_VERSION" -d "$WORK/dsp" \
        || "$PIP" download --quiet --no-deps --no-binary cmsisdsp \
            "cmsisdsp==$CMSIS_DSP_VERSION" -d "$WORK/dsp"
    tar -xzf "$WORK/dsp/cmsisdsp-$CMSIS_DSP_VERSION.tar.gz" -C "$WORK/dsp"
    local src="$WORK/dsp/cmsisdsp-$CMSIS_DSP_VERSION"
    # The sdist keeps the C library at its top level beside the Python wrapper.
    for d in Include PrivateInclude Source; do
        [[ -d "$src/$d" ]] || { echo "unexpected sdist layout: no $d/" >&2; exit 1; }
    done
    rm -rf "$dest"
    mkdir -p "$dest"
    cp -R "$src/Include" "$src/PrivateInclude" "$src/Source" "$src/LICENSE" "$dest/"
    echo "$CMSIS_DSP_VERSION" > "$dest/.version"
}

fetch_cmsis_core() {
    local dest="$THIRD/CMSIS-Core"
    if up_to_date "$dest" "$CMSIS_CORE_VERSION"; then
        echo "CMSIS-Core $CMSIS_CORE_VERSION: already in $dest"
        return
    fi
    echo "CMSIS-Core $CMSIS_CORE_VERSION: downloading from npm"
    mkdir -p "$WORK/core"
    (cd "$WORK/core" && npm pack --silent "$CMSIS_CORE_PACKAGE@$CMSIS_CORE_VERSION" > /dev/null)
    tar -xzf "$WORK/core"/*.tgz -C "$WORK/core"
    local src="$WORK/core/package"
    [[ -d "$src/CMSIS/Core/Include" ]] || { echo "unexpected npm layout" >&2; exit 1; }
    rm -rf "$dest"
    mkdir -p "$dest"
    cp -R "$src/CMSIS/Core/Include" "$src/LICENSE" "$dest/"
    echo "$CMSIS_CORE_VERSION" > "$dest/.version"
}

mkdir -p "$THIRD"
fetch_cmsis_dsp
fetch_cmsis_core

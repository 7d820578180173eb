"""Models too large for a target: refused by `hushkit export --target`, `hushkit build` and
`hushkit model push` with one line, before any work (no files written, nothing flashed).

The too-large models are real: the test network (MaskNet) with 128 and 512 hidden units,
quantized like any other (168 KB and ~1.9 MB of int8, the latter with a ~54 KB arena), against
the Black Pill (192 KB application slot, 128 KB RAM) and the STM32F405 board (1 MB flash,
128 KB RAM).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_test_model

from hushkit import cli, model_budget


def _one_line(capsys, code: int) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error")]
    assert code != 0 and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_budget_comes_from_the_targets_linker_script():
    b = model_budget.budget("blackpill-f411")
    assert (b.flash_bytes, b.ram_bytes) == (192 * 1024, 128 * 1024)
    m4 = model_budget.budget("qemu-m4")
    assert m4.model_bytes == 4 * 1024 * 1024 - model_budget.FIRMWARE_FLASH_BYTES


def test_budget_names_what_does_not_fit():
    b = model_budget.Budget("tiny", flash_bytes=100 * 1024, ram_bytes=100 * 1024)
    b.check(b.model_bytes, b.arena_bytes)  # exactly full fits
    with pytest.raises(model_budget.ModelTooLarge, match="flash") as err:
        b.check(b.model_bytes + 1, 1000)
    assert "arena" not in str(err.value)
    with pytest.raises(model_budget.ModelTooLarge, match="arena") as err:
        b.check(1000, b.arena_bytes + 1)
    assert "of flash" not in str(err.value) and "tiny" in str(err.value)


def _hidden(tmp_path_factory, hidden: int) -> tuple[Path, Path]:
    return make_test_model(tmp_path_factory.mktemp(f"hidden{hidden}"), hidden=hidden)


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> tuple[Path, Path]:
    """(.tflite, export dir) of a 168 KB model: fits every QEMU board, not the Black Pill."""
    return _hidden(tmp_path_factory, 128)


@pytest.fixture(scope="module")
def huge(tmp_path_factory) -> tuple[Path, Path]:
    """A 1.9 MB model with a ~54 KB arena: too large for the STM32F405's flash and RAM."""
    return _hidden(tmp_path_factory, 512)


@pytest.mark.slow
def test_export_refuses_a_model_too_large_for_the_target(big, tmp_path, capsys):
    out = tmp_path / "export"
    line = _one_line(
        capsys, cli.main(["export", str(big[0]), "--out", str(out), "--target", "blackpill-f411"])
    )
    assert "too large for blackpill-f411" in line and "of flash" in line
    assert not (out / "model_data.c").exists()
    assert cli.main(["export", str(big[0]), "--out", str(out), "--target", "qemu-m4"]) == 0


@pytest.mark.slow
def test_build_refuses_a_model_too_large_for_flash(big, capsys):
    line = _one_line(
        capsys, cli.main(["build", "--target", "blackpill-f411", "--model-dir", str(big[1])])
    )
    assert "too large for blackpill-f411" in line and "of flash" in line
    assert "arena" not in line


@pytest.mark.slow
def test_build_refuses_a_model_too_large_for_the_arena(huge, capsys):
    line = _one_line(
        capsys, cli.main(["build", "--target", "qemu-stm32f4", "--model-dir", str(huge[1])])
    )
    assert "too large for qemu-stm32f4" in line and "tensor arena" in line


def test_build_refuses_a_directory_that_is_no_export(tmp_path, capsys):
    (tmp_path / "model.tflite").write_bytes(b"not an export")
    line = _one_line(capsys, cli.main(["build", "--model-dir", str(tmp_path)]))
    assert "not an `hushkit export` output" in line


def test_build_refuses_a_file_given_as_model_dir(tmp_path, capsys):
    model = tmp_path / "model.tflite"
    model.write_bytes(b"\x00" * 64)
    line = _one_line(capsys, cli.main(["build", "--model-dir", str(model)]))
    assert "not found" in line and "hushkit export" in line


@pytest.fixture(scope="module")
def wide(tmp_path_factory) -> tuple[Path, Path]:
    """A 65 KB model (64 hidden units, arena ~11 KB): fits the 128 KB model slot, but not the
    arena a firmware built with the 16-unit test model keeps for a pushed one."""
    return _hidden(tmp_path_factory, 64)


@pytest.mark.slow
@pytest.mark.qemu
def test_push_refuses_models_too_large_for_the_slot_or_the_arena(
    firmware_model, firmware_build_root, tmp_path_factory, big, wide
):
    import flash_fixtures as ff
    import numpy as np

    from hushkit.flash import FlashError
    from hushkit.flash_model import push

    rig = ff.rig_or_skip(firmware_model[1], firmware_build_root, tmp_path_factory.mktemp("fit"))
    old = firmware_model[0]
    path = ff.flashed(rig, "fit.bin")
    with rig.device(path) as (client, _):
        with pytest.raises(FlashError, match="does not fit the 128 KB model slot"):
            push(client, big[0], progress=False)
        with pytest.raises(FlashError, match="arena too small"):
            push(client, wide[0], progress=False)
        info = client.info()
        assert info.model_loaded and info.model_sha256 == _sha(old)
        assert client.process(np.zeros(info.hop * 2, np.int16)).pcm.size == info.hop * 2


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()

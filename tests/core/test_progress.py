"""Progress of a register through the Python API: the callback is told the bytes
as they are hashed, in many steps, whichever way the bytes are copied."""

from __future__ import annotations

from mreg.core import copying

SIZE = 72 << 20  # above the command line's bar threshold (64 MiB)


def _register(registry, name: str, path) -> list[int]:
    steps: list[int] = []
    doc = registry.register(name, str(path), progress=steps.append)
    assert doc["size"] == sum(steps)
    return steps


def _big(path, size: int = SIZE):
    with open(path, "wb") as handle:
        handle.truncate(size)  # sparse: quick to read, yet as many steps as real bytes
    return path


def test_register_reports_progress_in_steps_as_it_hashes(registry, tmp_path):
    steps = _register(registry, "big", _big(tmp_path / "big.bin"))
    # One step per piece read (copying.READ_SIZE, 4 MiB), not one for the whole file at the end.
    assert sum(steps) == SIZE
    assert len(steps) >= SIZE // copying.READ_SIZE
    assert max(steps) <= copying.READ_SIZE


def test_a_source_stored_before_is_counted_once(registry, tmp_path):
    path = _big(tmp_path / "big.bin")
    _register(registry, "big", path)
    # The second time the cache knows the bytes: hashed without a copy, still in steps.
    steps = _register(registry, "again", path)
    assert sum(steps) == SIZE and len(steps) >= SIZE // copying.READ_SIZE


def test_a_directory_reports_every_file_in_steps(registry, tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    for i in range(3):
        _big(folder / f"part{i}.bin", 24 << 20)
    steps = _register(registry, "folder", folder)
    assert sum(steps) == 3 * (24 << 20)
    assert len(steps) >= 3 * ((24 << 20) // copying.READ_SIZE)

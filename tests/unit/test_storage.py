"""Result storage on local disk: where results go, that they are deleted whatever their layout,
and the instant provider's linked results."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from vidgate.media.local_storage import LocalStorage
from vidgate.providers.instant import SOURCE_NAME, tiny_mp4, write_tiny_mp4

TASK = "task_01M7YY6KSGEAYPCJ3JJAYDVZ14"


def test_results_are_spread_over_folders_named_by_the_task_ids_last_characters(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    assert storage.result_key(TASK) == f"results/14/{TASK}.mp4"
    assert storage.path(storage.result_key(TASK)) == tmp_path.resolve() / "results" / "14" / f"{TASK}.mp4"
    with pytest.raises(ValueError, match="not a plain relative path"):
        storage.path("results/../../etc/passwd")


def test_deleting_a_task_removes_its_result_in_either_layout_and_its_inputs(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    now = storage.path(storage.result_key(TASK))
    earlier = tmp_path / "results" / TASK / "video.mp4"  # results written before the sharded layout
    other = storage.path(storage.result_key(TASK[:-2] + "XY"))
    for path in (now, earlier, other):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"mp4")
    image = tmp_path / "image.png"
    image.write_bytes(b"png")
    storage.put_file(storage.input_key(TASK, "00-image.bin"), image)

    storage.delete_task(TASK)

    assert not now.exists() and not earlier.parent.exists() and not (tmp_path / "inputs" / TASK).exists()
    assert other.read_bytes() == b"mp4"  # another task's result is untouched


def test_instant_results_are_whole_mp4s_that_can_be_deleted_one_by_one(tmp_path: Path) -> None:
    paths = [tmp_path / f"task_{n}.mp4" for n in range(3)]
    for path in paths:
        write_tiny_mp4(path)
    assert (tmp_path / SOURCE_NAME).stat().st_nlink == 4  # one file, linked, not written 3 times
    paths[0].unlink()
    for path in paths[1:]:
        assert path.read_bytes() == tiny_mp4()
        with av.open(str(path)) as container:
            assert container.streams.video[0].codec_context.name == "h264"
    (tmp_path / SOURCE_NAME).unlink()  # the kept copy gone: the next result writes it again
    write_tiny_mp4(tmp_path / "task_9.mp4")
    assert (tmp_path / "task_9.mp4").read_bytes() == tiny_mp4()

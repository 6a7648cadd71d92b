"""Hostile submissions: none can raise its score, leak a secret, leave a process or a
file behind, or disturb anyone else's grade. Run as root in CI, where every
confinement layer applies; the cases that are only safe with them are skipped
where they are missing."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import threading
from pathlib import Path

import pytest
from conftest import ROOT, SUBMISSIONS

from autograder.jobs import grade_batch
from autograder.sandbox import Worker, Zygote
from autograder.scores import score_run
from autograder.submissions import collect
from autograder.verdicts import run_submission

HOSTILE = SUBMISSIONS / "hostile"
EXPECTED = json.loads((HOSTILE / "expected.json").read_text())
WRITE_TARGETS = ["/tmp/hostile-wrote-this.txt", "/tmp/hostile-atexit.txt", "/work/hostile.txt",
                 os.path.expanduser("~/hostile.txt"), "/dev/shm/hostile.txt",
                 "/var/tmp/hostile.txt"]
NEEDS_EVERY_LAYER = {"kill_parent_and_everyone.py", "fork_bomb_then_honest.py",
                     "write_everywhere.py", "steal_reference_from_disk.py"}


@pytest.fixture(scope="module")
def hostile_course(quick_course):
    limits = dataclasses.replace(quick_course.limits, call_seconds=0.5, submission_seconds=30)
    return dataclasses.replace(quick_course, limits=limits)


@pytest.fixture(scope="module")
def fully_protected(zygote, quick_course, tmp_path_factory):
    path = tmp_path_factory.mktemp("probe") / "probe.py"
    path.write_text("x = 1\n")
    with Worker(zygote, path, quick_course.limits) as worker:
        return worker.load().unprotected == ()


def sandbox_processes() -> list[int]:
    """Processes running as one of the sandbox users (uid 61000 and up)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            uid = next(int(line.split()[1]) for line in status.read_text().splitlines()
                       if line.startswith("Uid:"))
        except (OSError, StopIteration):
            continue
        if 61000 <= uid < 62000:
            found.append(int(status.parent.name))
    return found


@pytest.fixture
def listener():
    """A TCP server on loopback that records any connection."""
    server = socket.create_server(("127.0.0.1", 47123))
    server.settimeout(0.2)
    accepted, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                accepted.append(server.accept())
            except TimeoutError:
                continue

    thread = threading.Thread(target=serve)
    thread.start()
    yield accepted
    stop.set()
    thread.join()
    server.close()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_hostile_submission_gets_exactly_its_verdict(
        name, hostile_course, suites, zygote, fully_protected, listener):
    if name in NEEDS_EVERY_LAYER and not fully_protected:
        pytest.skip("only safe to run where every confinement layer applies (root, Landlock)")
    expected = EXPECTED[name]
    run = run_submission(hostile_course, suites, HOSTILE / name, zygote)
    result = score_run(hostile_course, name, run)
    scores = {ex.exercise.id: ex for ex in result.exercises}
    for ex_id in expected["full"]:
        assert scores[ex_id].score == scores[ex_id].max_score, ex_id
    for ex_id in expected["partial"]:
        assert 0 < scores[ex_id].score < scores[ex_id].max_score, ex_id
    for ex_id in expected["zero"]:
        assert scores[ex_id].score == 0, ex_id
    if expected["status"]:
        assert result.status == expected["status"]
    assert listener == [], "a submission reached a server on loopback"
    assert [t for t in WRITE_TARGETS if os.path.exists(t)] == []
    assert sandbox_processes() == []


def test_the_files_cover_the_expectations():
    assert {p.name for p in HOSTILE.glob("*.py")} == set(EXPECTED)


def test_secrets_in_the_graders_environment_never_reach_student_code(
        monkeypatch, quick_course, suites):
    monkeypatch.setenv("GRADER_SECRET_TOKEN", "hunter2-do-not-leak")
    server = Zygote()
    try:
        run = run_submission(quick_course, suites, HOSTILE / "read_environment.py", server)
    finally:
        server.close()
    assert "ENV {" in run.output
    assert "hunter2" not in run.output
    assert str(ROOT) not in run.output


def test_every_layer_applies_on_a_linux_machine_run_as_root(fully_protected):
    if os.geteuid() != 0:
        pytest.skip("the separate sandbox user needs the grader to run as root")
    assert fully_protected


HONEST = {"ada": ROOT / "solutions" / "backprop.py", "bo": ROOT / "exercises" / "backprop.py",
          "cy": SUBMISSIONS / "buggy" / "mse_divides_by_rows.py",
          "flo": SUBMISSIONS / "correct" / "float32_throughout.py"}


def _results(out: Path, students) -> dict:
    saved = {}
    for student in students:
        data = json.loads((out / "results" / f"{student}.json").read_text())
        data["extra_data"].pop("key")
        saved[student] = data
    return saved


def test_hostile_classmates_change_no_honest_grade(hostile_course, fully_protected, tmp_path):
    if not fully_protected:
        pytest.skip("only safe to run where every confinement layer applies (root, Landlock)")
    alone, mixed = tmp_path / "alone", tmp_path / "mixed"
    for folder, files in [(alone, HONEST), (mixed, {**HONEST, **{
            p.stem: p for p in HOSTILE.glob("*.py")}})]:
        folder.mkdir()
        for student, source in files.items():
            shutil.copy(source, folder / f"{student}.py")
    tmp_before = set(os.listdir("/tmp"))
    for folder in (alone, mixed):
        out = tmp_path / f"out-{folder.name}"
        grade_batch(hostile_course, collect([folder], hostile_course, out / "unpacked"), out,
                    jobs=2)
    assert _results(tmp_path / "out-alone", HONEST) == _results(tmp_path / "out-mixed", HONEST)
    assert sandbox_processes() == []
    new_in_tmp = set(os.listdir("/tmp")) - tmp_before
    assert [n for n in new_in_tmp if n.startswith(("grade-", "hostile"))] == []
    assert [t for t in WRITE_TARGETS if os.path.exists(t)] == []

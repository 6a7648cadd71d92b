"""Hostile submissions: none can raise its score, leak a secret, leave a process, a file
or an IPC object behind, reach anything outside its sandbox, stall a batch or disturb
anyone else's grade. Run as root in CI, where every confinement layer applies; the
cases that are only safe with them are skipped where they are missing.

Every check looks only at what this test started: its own canary folder, its own
listeners, the IPC key its own hostile file uses, and its own process tree."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, SUBMISSIONS, descendants, quick

from autograder.course import load_course
from autograder.forkserver import Zygote
from autograder.sandbox import Worker
from autograder.scores import score_run
from autograder.verdicts import load_suites, run_submission

HOSTILE = SUBMISSIONS / "hostile"
EXPECTED = json.loads((HOSTILE / "expected.json").read_text())
WRITE_TARGETS = ["/tmp/hostile-wrote-this.txt", "/tmp/hostile-atexit.txt", "/work/hostile.txt",
                 os.path.expanduser("~/hostile.txt"), "/dev/shm/hostile.txt",
                 "/var/tmp/hostile.txt"]
CANARIES = Path("/var/lib/backprop-grader-canary")  # root only; the hostile files aim here
SITE_PACKAGES = [Path(p) for p in sys.path if p.endswith("site-packages")]
IPC_KEY = "0x0bac0001"  # sysv_ipc_left_behind.py's segment
NEEDS_EVERY_LAYER = {"kill_parent_and_everyone.py", "fork_bomb_then_honest.py",
                     "write_everywhere.py", "steal_reference_from_disk.py",
                     "restart_through_symlinks.py", "sysv_ipc_left_behind.py",
                     "unix_socket_knocker.py", "disk_filler.py", "escape_namespaces.py"}
TRUSTED_MEMORY_MB = 300  # peak RSS of any trusted grading process in a batch (README)
HONEST = {"ada": ROOT / "solutions" / "backprop.py", "bo": ROOT / "exercises" / "backprop.py",
          "cy": SUBMISSIONS / "buggy" / "mse_divides_by_rows.py",
          "flo": SUBMISSIONS / "correct" / "float32_throughout.py"}


def hostile_course_of(course):
    return quick(course, call_seconds=0.5, submission_seconds=30)


@pytest.fixture(scope="module")
def hostile_course(course):
    return hostile_course_of(course)


def every_layer_applies(zygote, course, folder: Path) -> bool:
    path = folder / "probe.py"
    path.write_text("x = 1\n")
    with Worker(zygote, path, course.limits) as worker:
        return worker.load().unprotected == ()


@pytest.fixture(scope="module")
def fully_protected(zygote, quick_course, tmp_path_factory):
    return every_layer_applies(zygote, quick_course, tmp_path_factory.mktemp("probe"))


def _status(pid: int) -> dict[str, str]:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return dict(line.split(":", 1) for line in lines if ":" in line)


def our_sandbox_processes(below: int | None = None) -> list[int]:
    """Our own descendants (or those of process below) that run as another user than
    ours: student code."""
    return [pid for pid in descendants(os.getpid() if below is None else below)
            if _status(pid).get("Uid", str(os.geteuid())).split()[0] != str(os.geteuid())]


def canaries_intact() -> list[str]:
    """What changed in the canary folder and site-packages (empty: nothing). Without
    root there is no canary folder (nor a grader that could write into one)."""
    if os.geteuid() != 0 or not CANARIES.is_dir():
        return []
    changed = sorted(p.name for p in CANARIES.iterdir() if p.name != "canary.txt")
    if (CANARIES / "canary.txt").read_text() != "original\n":
        changed.append("canary.txt")
    return changed + [str(p) for folder in SITE_PACKAGES for p in folder.glob("zz_hostile*")]


def set_canaries() -> Path | None:
    if os.geteuid() != 0:
        return None
    CANARIES.mkdir(mode=0o700, exist_ok=True)
    (CANARIES / "canary.txt").write_text("original\n")
    return CANARIES


def ipc_segments() -> list[str]:
    """The hostile file's SysV segments still on the machine (by its own key)."""
    listing = subprocess.run(["ipcs", "-m"], capture_output=True, text=True).stdout
    return [line for line in listing.splitlines() if line.startswith(IPC_KEY)]


class Listener:
    """A TCP server on loopback and a unix socket anyone may connect to, recording
    every connection."""

    def __init__(self, folder: Path):
        self.path = folder / f"backprop-hostile-{os.getpid()}.sock"
        self.servers = [socket.create_server(("127.0.0.1", 0)),
                        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)]
        self.servers[1].bind(str(self.path))
        self.path.chmod(0o777)
        self.servers[1].listen()
        self.accepted: list = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._serve, args=(s,), daemon=True)
                        for s in self.servers]
        for thread in self.threads:
            thread.start()

    def _serve(self, server: socket.socket) -> None:
        server.settimeout(0.2)
        while not self.stop.is_set():
            try:
                self.accepted.append(server.accept())
            except TimeoutError:
                continue

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()
        for server in self.servers:
            server.close()
        self.path.unlink()




def assert_nothing_escaped(listener: Listener) -> None:
    assert listener.accepted == [], "a submission reached a server on this machine"
    assert [t for t in WRITE_TARGETS if os.path.exists(t)] == []
    assert canaries_intact() == []
    assert ipc_segments() == []
    assert our_sandbox_processes() == []


def assert_verdict(name: str, result) -> None:
    expected = EXPECTED[name]
    scores = {ex.exercise.id: ex for ex in result.exercises}
    for ex_id in expected["full"]:
        assert scores[ex_id].score == scores[ex_id].max_score, ex_id
    for ex_id in expected["partial"]:
        assert 0 < scores[ex_id].score < scores[ex_id].max_score, ex_id
    for ex_id in expected["zero"]:
        assert scores[ex_id].score == 0, ex_id
    if expected["status"]:
        assert result.status == expected["status"]


@dataclasses.dataclass(frozen=True)
class Alone:
    """A hostile file graded by itself, and what had escaped right after."""

    result: object  # its StudentResult
    output: str  # what it printed
    escaped: dict[str, list]  # everything it reached or left behind (escapes)


NOTHING = {"connections to a server on this machine": [], "files written": [],
           "canaries changed": [], "IPC segments": [], "processes left": []}


def escapes(listener: Listener, below: int) -> dict[str, list]:
    """What assert_nothing_escaped looks at (all empty: nothing), the processes among
    those below process below."""
    return {"connections to a server on this machine": list(listener.accepted),
            "files written": [t for t in WRITE_TARGETS if os.path.exists(t)],
            "canaries changed": canaries_intact(), "IPC segments": ipc_segments(),
            "processes left": our_sandbox_processes(below)}


def grade_each_alone(setup) -> dict[str, Alone]:
    """Each hostile file (those safe to run here) graded by itself, one after another
    with a fork server of this work's own, once the batches have ended, and what had
    escaped right after each (in the background: conftest.Background).

    Student code runs as another user than ours, in processes below its fork server
    (never a subreaper: a process that leaves that tree leaves ours too), so the
    processes below this one are all those a hostile file can have left among ours; the
    rest of the suite's student code runs below fork servers of its own."""
    prepared = setup.result("hostile batches", prepare)
    hostile_course = hostile_course_of(setup.course)
    protected = prepared.batches is not None
    suites = load_suites(setup.course)
    server = Zygote()
    try:
        graded = {}
        for name in sorted(EXPECTED):
            if name in NEEDS_EVERY_LAYER and not protected:
                continue
            run = run_submission(hostile_course, suites, HOSTILE / name, server)
            graded[name] = Alone(score_run(hostile_course, name, run), run.output,
                                 escapes(prepared.listener, server.process.pid))
        return graded
    finally:
        server.close()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_hostile_submission_gets_exactly_its_verdict(name, fully_protected, background):
    if name in NEEDS_EVERY_LAYER and not fully_protected:
        pytest.skip("only safe to run where every confinement layer applies (root, Landlock)")
    alone = background.result("hostile files alone", grade_each_alone)[name]
    assert_verdict(name, alone.result)
    assert "BEGIN HIDDEN TESTS" not in alone.output
    assert alone.escaped == NOTHING


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


def test_two_fork_servers_never_share_a_sandbox_user(fully_protected):
    if not fully_protected:
        pytest.skip("sandbox users need root")
    first, second = Zygote(), Zygote()
    try:
        assert first.uid.number != second.uid.number
    finally:
        first.close()
        second.close()


# --- whole batches, through the command line, as an instructor runs them -------------

def _course_file(folder: Path, hostile_course) -> Path:
    """course.yaml with the hostile course's short limits; its paths point into ROOT."""
    data = yaml.safe_load((ROOT / "course.yaml").read_text())
    for key in ("reference", "lesson", "mistakes", "exercises_dir"):
        data[key] = str(ROOT / data[key])
    data["tests"] = {k: str(ROOT / v) for k, v in data["tests"].items()}
    data["limits"].update(dataclasses.asdict(hostile_course.limits))
    path = folder / "course.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@dataclasses.dataclass
class Batch:
    out: Path
    seconds: float
    trusted_peak_mb: float  # the largest peak RSS of any trusted process (not child.py)
    stdout: str
    code: int

    def results(self, students) -> dict:
        saved = {}
        for student in students:
            data = json.loads((self.out / "results" / f"{student}.json").read_text())
            data["extra_data"].pop("key")
            saved[student] = data
        return saved


def _peak_mb(pid: int) -> float:
    found = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(found[1]) / 1024 if found else 0.0


def _is_trusted(pid: int) -> bool:
    try:
        return b"child.py" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def start_batch(course_file: Path, folder: Path, out: Path) -> subprocess.Popen:
    """A grader run whose temporary files go to a folder of this test's own."""
    temporary = out.with_name(f"{out.name}-tmp")
    temporary.mkdir()
    return subprocess.Popen(
        [sys.executable, "-m", "autograder", "--course", str(course_file), "grade",
         str(folder), "--out", str(out), "--jobs", "2"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "TMPDIR": str(temporary)})


def watch(processes: list[subprocess.Popen], outs: list[Path], deadline: float) -> list[Batch]:
    """Wait for batches running at once, sampling the peak memory of their trusted
    processes (the grader and its grading processes, not the sandboxed child.py)."""
    start, peaks, ended = time.monotonic(), [0.0] * len(processes), {}
    while len(ended) < len(processes):
        for i, process in enumerate(processes):
            if i in ended or process.poll() is not None:
                ended.setdefault(i, time.monotonic() - start)
                continue
            for pid in filter(_is_trusted, [process.pid, *descendants(process.pid)]):
                try:
                    peaks[i] = max(peaks[i], _peak_mb(pid))
                except OSError:
                    continue
        if time.monotonic() - start > deadline:
            for process in processes:
                process.kill()
            pytest.fail(f"a batch did not end within {deadline:g} s")
        time.sleep(0.05)
    return [Batch(out, ended[i], peaks[i], process.stdout.read().decode(errors="replace"),
                  process.returncode)
            for i, (process, out) in enumerate(zip(processes, outs))]


def copy_class(folder: Path, files: dict[str, Path]) -> Path:
    folder.mkdir()
    for student, source in files.items():
        shutil.copy(source, folder / f"{student}.py")
    return folder


def grade_batches(hostile_course, root: Path) -> tuple[Batch, list[Batch]]:
    """The honest students alone, then honest and hostile mixed in two graders at once."""
    course_file = _course_file(root, hostile_course)
    alone = copy_class(root / "alone", HONEST)
    mixed = copy_class(root / "mixed", {**HONEST, **{p.stem: p for p in HOSTILE.glob("*.py")}})
    # each submission ends by its own deadline; two grading processes per batch
    deadline = 60 + len(list(mixed.iterdir())) / 2 * hostile_course.limits.submission_seconds
    outs = [root / "out-alone", root / "out-a", root / "out-b"]
    (solo,) = watch([start_batch(course_file, alone, outs[0])], outs[:1], deadline)
    return solo, watch([start_batch(course_file, mixed, out) for out in outs[1:]], outs[1:],
                       deadline)


@dataclasses.dataclass
class Prepared:
    """The module's listener and canaries, and the batches graded with them in place."""

    listener: Listener
    canaries: Path | None
    batches: tuple[Batch, list[Batch]] | None  # None: not every confinement layer applies


def prepare(setup) -> Prepared:
    """The listener and the canaries, then the batches (in the background, from the start
    of the session, with no other background work beside them: conftest.Background).
    Every test here waits for it, so no hostile file runs here while the batches run."""
    course, tmp_path_factory = setup.course, setup.tmp_path_factory
    listener = Listener(Path("/tmp"))
    try:
        canaries = set_canaries()
        hostile_course = hostile_course_of(course)
        server = Zygote()
        try:
            protected = every_layer_applies(server, hostile_course,
                                            tmp_path_factory.mktemp("probe"))
        finally:
            server.close()
        batches = (grade_batches(hostile_course, tmp_path_factory.mktemp("batches"))
                   if protected else None)
    except BaseException:
        listener.close()
        raise
    return Prepared(listener, canaries, batches)


EXCLUSIVE = {"hostile batches": prepare}
BACKGROUND = {"hostile files alone": grade_each_alone}


@pytest.fixture(scope="session")  # for this module's quiet test too, which runs last
def prepared(background):
    ready = background.result("hostile batches", prepare)
    yield ready
    ready.listener.close()


@pytest.fixture(scope="module")
def listener(prepared) -> Listener:
    return prepared.listener


@pytest.fixture(scope="module")
def canaries(prepared) -> Path | None:
    return prepared.canaries


@pytest.fixture(scope="module")
def batches(prepared):
    if prepared.batches is None:
        pytest.skip("only safe to run where every confinement layer applies (root, Landlock)")
    return prepared.batches


def test_two_mixed_graders_at_once_change_no_honest_grade(batches):
    solo, mixed = batches
    assert solo.code == 0, solo.stdout
    for batch in mixed:
        assert batch.code == 0, batch.stdout
        assert batch.results(HONEST) == solo.results(HONEST)


def test_two_graders_at_once_give_every_student_the_same_result(batches):
    students = {*HONEST, *(p.stem for p in HOSTILE.glob("*.py"))}
    first, second = (batch.results(students) for batch in batches[1])
    assert {s for s in students if first[s] != second[s]} == set()


def test_every_student_of_a_hostile_batch_has_a_row(batches):
    students = {*HONEST, *(p.stem for p in HOSTILE.glob("*.py"))}
    for batch in batches[1]:
        with open(batch.out / "grades.csv") as grades:
            rows = {line.split(",")[0] for line in grades.read().splitlines()[1:]}
        assert rows == students
        for student in students:
            result = json.loads((batch.out / "results" / f"{student}.json").read_text())
            assert result["extra_data"]["status"], student


@pytest.mark.quiet  # every process of ours is looked at
def test_hostile_batches_leave_nothing_behind_and_reach_nothing(batches, listener):
    assert_nothing_escaped(listener)
    for batch in batches[1]:
        assert "BEGIN HIDDEN TESTS" not in "".join(
            p.read_text(errors="replace") for p in (batch.out / "output").glob("*"))


def test_hostile_batches_leave_no_temporary_files(batches):
    for batch in [batches[0], *batches[1]]:
        assert list(batch.out.with_name(f"{batch.out.name}-tmp").iterdir()) == []


def test_the_disk_quota_holds(batches, hostile_course):
    for batch in batches[1]:
        printed = (batch.out / "output" / "disk_filler.txt").read_text()
        written = int(re.search(r"DISK: wrote (\d+) MB", printed)[1])
        assert 0 < written <= hostile_course.limits.disk_mb + 1  # + the submission's own MB


def test_trusted_processes_stay_under_their_memory_bound(batches):
    for batch in [batches[0], *batches[1]]:
        assert 0 < batch.trusted_peak_mb <= TRUSTED_MEMORY_MB


def test_student_text_never_reaches_the_terminal_raw(batches):
    for batch in batches[1]:
        assert "\x1b" not in batch.stdout and "\u202e" not in batch.stdout
        assert "example.invalid" not in batch.stdout  # forged_missing_layers.py


def test_load_course_of_the_batches_is_the_hostile_course(tmp_path, hostile_course):
    assert load_course(_course_file(tmp_path, hostile_course)).limits == hostile_course.limits


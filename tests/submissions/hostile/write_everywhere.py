"""Tries to write files wherever it can, at import time and when called."""
import os

TARGETS = ["/tmp/hostile-wrote-this.txt", os.path.join(os.getcwd(), "..", "hostile.txt"),
           "/work/hostile.txt", os.path.expanduser("~/hostile.txt"), "/dev/shm/hostile.txt",
           "/var/tmp/hostile.txt", "grades.csv", "../grades.csv", "../../grades.csv"]


def _write_all():
    for target in TARGETS:
        try:
            with open(target, "w") as handle:
                handle.write("student,score\nme,100\n")
        except OSError:
            pass


_write_all()


def mse(y_true, y_pred):
    _write_all()
    raise NotImplementedError()

"""The errors that stop a run, one class per kind of fault; cli.py maps each to its exit code.

A student's broken or hostile submission is never one of these: it is a result
(statuses.py). These are the mistakes only a person at the keyboard can fix.
"""

from __future__ import annotations


class CourseError(Exception):
    """A mistake in course.yaml or in the files it names (the reference, the tests, the
    catalogue of mistakes): the instructor fixes the course."""


class InputError(Exception):
    """What the command was given cannot be used: a submission, a folder, an option."""


class SetupError(Exception):
    """This machine or installation cannot run the grader: a package or the sandbox's
    users missing, the fork server stopped. The message says what to install or fix."""

"""Grading engine for the backprop exercises.

The data flow, one module per stage:
course (course.yaml) -> submissions (finds them) -> sandbox (runs student code
in a confined child process, via child, confine and wire) -> verdicts (otter
test cases, one verdict each; diagnosis names the likely mistake) -> scores
(pure) -> gradebook / feedback / report (files for instructors and students).
jobs ties the stages into `check` and `grade` (progress reports on them);
release makes the student files and autograder.zip; cli parses the command line.
"""

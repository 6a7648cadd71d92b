"""Grading engine for the backprop exercises.

The data flow, one module per stage:
course (course.yaml) -> sandbox (runs student code in a child process, via
child and wire) -> verdicts (otter test cases, one verdict each) -> scores
(pure) -> gradebook / feedback (files for instructors and students).
jobs ties the stages into `check` and `grade`; release makes the student
files and autograder.zip; cli parses the command line.
"""

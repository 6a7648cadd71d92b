"""Grading engine for the backprop exercises.

The data flow, one module per stage:
course (course.yaml) -> submissions (finds them) -> sandbox (runs student code
in a confined child process, via child, confine and wire) -> verdicts (otter
test cases, one verdict each; diagnosis names the likely mistake) -> scores
(pure; statuses names how a run ended) -> results (results/<student>.json, read
back typed) -> grades.csv / nbgrader_course / feedback / report (files for
instructors and students, written whole by files). jobs ties the stages into
`check` and `grade` (progress reports on them); release makes the student files
and autograder.zip; gradescope runs on Gradescope; cli parses the command line
and maps errors (errors) to exit codes.
"""

# the variables that set how many threads numpy's BLAS uses: one, in the student's process
# and in the grader's (so that the grader's CPU time answering a stand-in, which is charged
# to the student, is the thread's own)
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

import os
import sys

from autograder import BLAS_THREADS

os.environ.update(dict.fromkeys(BLAS_THREADS, "1"))  # before numpy is imported

from autograder.cli import main  # noqa: E402

sys.exit(main())

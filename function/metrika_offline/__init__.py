"""metrika-offline: Cloud Storage CSV drops to Yandex Metrica offline conversions."""

import os

__version__ = "0.1.0"

# numpy serves the duplicate table and the ledger: element-wise work, never linear algebra.
# Its BLAS would start a thread per core at import all the same, which doubles the CPU time of
# starting a command (README, "Check and split"). Set before anything in the package imports numpy;
# a value the environment already gives wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

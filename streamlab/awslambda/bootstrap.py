"""An execution environment's entry point, like AWS's ``/var/runtime/bootstrap``. Not imported by
the lab: :mod:`streamlab.awslambda.runtime_dir` links it into the runtime directory and each
environment runs ``python -S <runtime dir>/bootstrap.py <handler>``.

``-S`` keeps ``site`` (so the lab's virtualenv and its ``.pth`` hooks) out: ``sys.path`` is the
function's code, then ``PYTHONPATH`` (the function's own, the lab's hooks, the runtime
directory with awslambdaric and the SDK), then the standard library, as on AWS.
"""

import os
import runpy
import sys

# What site would do: import a sitecustomize found on PYTHONPATH (the lab's timescale hook),
# before the function's code is on the path, so a sitecustomize.py in the zip is not run.
try:
    import sitecustomize  # noqa: F401
except ModuleNotFoundError as e:
    if e.name != "sitecustomize":
        raise

# The task root first, where the script's own directory would be.
sys.path[0] = os.environ["LAMBDA_TASK_ROOT"]
runpy.run_module("awslambdaric", run_name="__main__", alter_sys=True)

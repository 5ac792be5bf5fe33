"""Exercise checks, progress and grading for the workshop's labs.

In a notebook::

    from streamlab.grading import check, progress
    check("01-create-topic")   # public checks, with hints; hidden ones run at grading time
    progress()                 # what is done, lab by lab

For instructors: ``grade(paths, out_dir)`` writes grades.csv and grades.html. The learner
notebooks are generated from solutions/ by ``python -m streamlab.grading.build``.
"""

from streamlab.grading.checks import CheckResult, check
from streamlab.grading.grade import GradeReport, grade
from streamlab.grading.progress import Progress, progress

__all__ = ["CheckResult", "GradeReport", "Progress", "check", "grade", "progress"]

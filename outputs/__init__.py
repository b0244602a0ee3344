"""Writing output files safely: the one path every aimark command and layer writes through.

Below both layers (:mod:`watermark` and :mod:`manifests` import it, it imports
neither), because both write files: marked videos and key files, signed videos
and credentials. See :class:`Output`.
"""

from outputs.errors import (OutputError, OutputExistsError, OutputPathError, SameFileError, WriteError,
                            as_write_error, write_failed)
from outputs.file import Output, is_temporary, write_bytes
from outputs.signals import EXIT_TERMINATED, Terminated, deferred, terminate_gracefully

__all__ = [
    "EXIT_TERMINATED", "Output", "OutputError", "OutputExistsError", "OutputPathError", "SameFileError",
    "Terminated", "WriteError", "as_write_error", "deferred", "is_temporary", "terminate_gracefully",
    "write_bytes", "write_failed",
]

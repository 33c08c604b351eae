"""BPF helpers of the emulated kernel: the prototype table (protos.py, shared with the
verifier) and the implementations the VM calls (impl_*.py, bound together in dispatch.py).
"""

from harness.kernel.helpers.ids import BPF_FUNC_MAX_ID, FUNC_IDS, FUNC_NAMES, func_id_name  # noqa: F401
from harness.kernel.helpers.protos import (  # noqa: F401
    PROTOS, HelperProto, func_proto, license_is_gpl_compatible, split_type,
)

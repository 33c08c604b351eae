"""Which program types may call the current-task helpers, as the running 6.18 kernel answers."""

import pytest

from harness.kernel.helpers.protos import func_proto
from harness.kernel.helpers.ids import FUNC_IDS
from harness.uapi import ProgType


@pytest.mark.parametrize("name, privileged, offered", [
    ("get_current_pid_tgid", True, True),
    ("get_current_pid_tgid", False, True),
    ("get_current_uid_gid", False, True),
    ("get_current_comm", True, True),
    ("get_current_comm", False, False),     # CAP_PERFMON only
])
def test_socket_filter_current_task_helpers(name, privileged, offered):
    proto = func_proto(FUNC_IDS[name], ProgType.SOCKET_FILTER, privileged=privileged)
    assert (proto is not None) == offered

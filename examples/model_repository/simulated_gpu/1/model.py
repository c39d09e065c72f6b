"""A model that imitates one on a GPU, so that a machine without a GPU can
show how instance count and max batch size trade off.

Every batch takes a fixed launch time plus a time per input row on one shared
device. The instances of a loaded model take turns on that device through a
file lock, as instances on one GPU share its compute. Like an engine built
for a static shape, each batch also pays for the max_batch_size it was
configured with, used or not. Preparing inputs and outputs runs outside the
lock, so a second instance can prepare while the first holds the device.

The waits are time.sleep calls: the host's CPU stays free, and the timings
hold on a small or busy machine. The output is the input doubled.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import time

import numpy as np
import triton_python_backend_utils as pb_utils

LAUNCH_SECONDS = 0.008
PER_REQUEST_SECONDS = 0.001
PER_CONFIGURED_SLOT_SECONDS = 0.0002
PREPARE_SECONDS = 0.002
FINISH_SECONDS = 0.002


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        self.max_batch_size = max(1, int(config.get("max_batch_size", 0)))
        # One lock file per loaded model: its instances share the device, other
        # models and other servers do not.
        model_directory = os.path.join(args["model_repository"], args["model_version"])
        key = hashlib.sha256(model_directory.encode()).hexdigest()[:16]
        self.device_path = os.path.join(
            tempfile.gettempdir(), f"simulated_gpu-{key}.lock"
        )
        self.device = open(self.device_path, "a+b")

    def execute(self, requests):
        inputs = [
            pb_utils.get_input_tensor_by_name(request, "INPUT").as_numpy()
            for request in requests
        ]
        time.sleep(PREPARE_SECONDS)
        fcntl.flock(self.device, fcntl.LOCK_EX)
        try:
            time.sleep(
                LAUNCH_SECONDS
                + PER_REQUEST_SECONDS * sum(batch.shape[0] for batch in inputs)
                + PER_CONFIGURED_SLOT_SECONDS * self.max_batch_size
            )
        finally:
            fcntl.flock(self.device, fcntl.LOCK_UN)
        time.sleep(FINISH_SECONDS)
        return [
            pb_utils.InferenceResponse(
                output_tensors=[
                    pb_utils.Tensor("OUTPUT", (batch * 2).astype(np.float32))
                ]
            )
            for batch in inputs
        ]

    def finalize(self):
        self.device.close()
        # Instances still running keep their own handle on the lock.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.device_path)

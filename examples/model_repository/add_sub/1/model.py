"""Element-wise sum and difference of two FP32 tensors, for Triton's Python backend."""

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            input0 = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
            input1 = pb_utils.get_input_tensor_by_name(request, "INPUT1").as_numpy()
            output0 = pb_utils.Tensor("OUTPUT0", (input0 + input1).astype(np.float32))
            output1 = pb_utils.Tensor("OUTPUT1", (input0 - input1).astype(np.float32))
            responses.append(pb_utils.InferenceResponse(output_tensors=[output0, output1]))
        return responses

"""A two-layer dense network (64 -> 256 -> 10, ReLU, softmax) for Triton's Python backend.

The weights are generated from a fixed seed at load time, so every instance
computes the same function and no weight file has to be shipped.
"""

import numpy as np
import triton_python_backend_utils as pb_utils

INPUT_SIZE = 64
HIDDEN_SIZE = 256
OUTPUT_SIZE = 10
SEED = 20261204


class TritonPythonModel:
    def initialize(self, args):
        rng = np.random.default_rng(SEED)
        self.hidden_weights = rng.standard_normal((INPUT_SIZE, HIDDEN_SIZE), dtype=np.float32)
        self.hidden_weights /= np.sqrt(INPUT_SIZE)
        self.hidden_bias = np.zeros(HIDDEN_SIZE, dtype=np.float32)
        self.output_weights = rng.standard_normal((HIDDEN_SIZE, OUTPUT_SIZE), dtype=np.float32)
        self.output_weights /= np.sqrt(HIDDEN_SIZE)
        self.output_bias = np.zeros(OUTPUT_SIZE, dtype=np.float32)

    def execute(self, requests):
        # Run all requests of a dynamic batch as one matrix product, then split.
        inputs = [
            pb_utils.get_input_tensor_by_name(request, "FEATURES").as_numpy()
            for request in requests
        ]
        sizes = [batch.shape[0] for batch in inputs]
        scores = self._forward(np.concatenate(inputs, axis=0))
        responses = []
        for part in np.split(scores, np.cumsum(sizes)[:-1]):
            output = pb_utils.Tensor("SCORES", part.astype(np.float32))
            responses.append(pb_utils.InferenceResponse(output_tensors=[output]))
        return responses

    def _forward(self, features):
        hidden = np.maximum(features @ self.hidden_weights + self.hidden_bias, 0.0)
        logits = hidden @ self.output_weights + self.output_bias
        logits -= logits.max(axis=1, keepdims=True)
        exponentials = np.exp(logits)
        return exponentials / exponentials.sum(axis=1, keepdims=True)

"""ch4's TwoLayerNet with its weight scale fixed inside (no weight_init_std argument)."""
import os
import sys

sys.path.append(os.pardir)
import numpy as np
from common.functions import cross_entropy_error, softmax


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size):
        weight_init_std = 0.01
        self.params = {
            "W1": weight_init_std * np.random.randn(input_size, hidden_size),
            "b1": np.zeros(hidden_size),
            "W2": weight_init_std * np.random.randn(hidden_size, output_size),
            "b2": np.zeros(output_size),
        }

    def predict(self, x):
        z1 = sigmoid(np.dot(x, self.params["W1"]) + self.params["b1"])
        return softmax(np.dot(z1, self.params["W2"]) + self.params["b2"])

    def loss(self, x, t):
        return cross_entropy_error(t, self.predict(x))

    def gradient(self, x, t):
        W2 = self.params["W2"]
        z1 = sigmoid(np.dot(x, self.params["W1"]) + self.params["b1"])
        dy = (softmax(np.dot(z1, W2) + self.params["b2"]) - t) / x.shape[0]
        dz1 = np.dot(dy, W2.T) * (1.0 - z1) * z1
        return {"W1": np.dot(x.T, dz1), "b1": dz1.sum(axis=0),
                "W2": np.dot(z1.T, dy), "b2": dy.sum(axis=0)}

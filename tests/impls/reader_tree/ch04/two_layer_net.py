"""ch4's TwoLayerNet under the book's class name (graded as networks.TwoLayerNetCh4)."""
import os
import sys

sys.path.append(os.pardir)
import numpy as np
from common.functions import cross_entropy_error, sigmoid, softmax


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
        self.params = {
            "W1": weight_init_std * np.random.randn(input_size, hidden_size),
            "b1": np.zeros(hidden_size),
            "W2": weight_init_std * np.random.randn(hidden_size, output_size),
            "b2": np.zeros(output_size),
        }

    def predict(self, x):
        a1 = np.dot(x, self.params["W1"]) + self.params["b1"]
        return softmax(np.dot(sigmoid(a1), self.params["W2"]) + self.params["b2"])

    def loss(self, x, t):
        return cross_entropy_error(self.predict(x), t)

    def gradient(self, x, t):
        W1, W2 = self.params["W1"], self.params["W2"]
        batch_num = x.shape[0]
        z1 = sigmoid(np.dot(x, W1) + self.params["b1"])
        y = softmax(np.dot(z1, W2) + self.params["b2"])
        dy = (y - t) / batch_num
        grads = {"W2": np.dot(z1.T, dy), "b2": np.sum(dy, axis=0)}
        dz1 = np.dot(dy, W2.T) * (1.0 - z1) * z1
        grads["W1"] = np.dot(x.T, dz1)
        grads["b1"] = np.sum(dz1, axis=0)
        return grads


if __name__ == "__main__":
    raise SystemExit("not when imported")

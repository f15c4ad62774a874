"""4.4.2's simpleNet with its weights spelt in lower case."""
import os
import sys

sys.path.append(os.pardir)
import numpy as np
from common.functions import cross_entropy_error, softmax


class SimpleNet:
    def __init__(self):
        self.w = np.random.randn(2, 3)

    def predict(self, x):
        return np.dot(x, self.w)

    def loss(self, x, t):
        return cross_entropy_error(t, softmax(self.predict(x)))

"""A renamed class: graded only through --map, suggested by "did you mean"."""

import numpy as np


class Dropout_Vanilla_Version:
    def __init__(self, dropout_rate=0.5):
        self.dropout_rate = dropout_rate

    def forward(self, x, for_training=True):
        if for_training:
            self.mask = np.random.rand(*x.shape) > self.dropout_rate
            return x * self.mask
        return x * (1.0 - self.dropout_rate)

    def backward(self, dout):
        return dout * self.mask

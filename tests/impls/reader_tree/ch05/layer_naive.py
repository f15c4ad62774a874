"""A chapter script whose imports and assignments cannot all run outside the book's folders:
the data loader does not exist here and the training set is never loaded. Its AddLayer is still
graded."""
import os
import sys

sys.path.append(os.pardir)
from dataset.mnist import load_mnist  # no dataset/ in this tree

(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True)
train_size = x_train.shape[0]


class AddLayer:
    def forward(self, x, y):
        return x + y

    def backward(self, dout):
        return dout * 1, dout * 1

"""A reader's multi-layer net that spells the book's ``train_flg`` as ``train_flag`` (met in a
public repository): ``predict``/``loss`` take ``train_flag``, and ``loss(x, t, train_flag=True)``
is the training-mode loss (batch norm on the batch's statistics). The arithmetic is this
project's own (a subclass), so every concept it provides must PASS: a grader that fails to put
the loss in training mode sees a wrong loss next to right gradients.
"""

from scratch.multi_layer_net import MultiLayerNetExtend as _Net


class MultiLayerNetExtend(_Net):
    def predict(self, x, train_flag=False):
        return super().predict(x, train_flag)

    def loss(self, x, true_label, train_flag=False):
        return super().loss(x, true_label, train_flag)

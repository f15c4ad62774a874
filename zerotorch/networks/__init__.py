"""The book's networks (ch3–ch8) as ``nn.Module``s, mirroring ``scratch.networks``.

``base.BookNetwork`` is the one base (book keys, ``state_dict``, modes, loss, accuracy,
``to_builtin``); ``two_layer_net`` holds ch3–ch5, ``multi_layer_net`` ch6, ``convnet`` ch7–ch8.
"""

from zerotorch.networks.base import BookNetwork
from zerotorch.networks.convnet import DeepConvNet, SimpleConvNet
from zerotorch.networks.multi_layer_net import MultiLayerNet, MultiLayerNetExtend
from zerotorch.networks.two_layer_net import (
    SimpleNet,
    TwoLayerNet,
    TwoLayerNetCh4,
    forward,
    init_network,
    predict,
)

__all__ = ["BookNetwork", "DeepConvNet", "MultiLayerNet", "MultiLayerNetExtend", "SimpleConvNet",
           "SimpleNet", "TwoLayerNet", "TwoLayerNetCh4", "forward", "init_network", "predict"]

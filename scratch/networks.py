"""The book's networks (ch3–ch8), re-exported from one module per network family."""

from scratch.two_layer_net import SimpleNet, TwoLayerNet, TwoLayerNetCh4, init_network, predict  # noqa: F401,E501

from scratch.multi_layer_net import MultiLayerNet, MultiLayerNetExtend  # noqa: E402,F401  # isort: skip
from scratch.convnet import DeepConvNet, SimpleConvNet  # noqa: E402,F401  # isort: skip

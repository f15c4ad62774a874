"""The book's networks as nn.Modules (ch3–ch8), re-exported like scratch.networks."""

from zerotorch.two_layer_net import SimpleNet, TwoLayerNet, TwoLayerNetCh4, init_network, predict  # noqa: F401,E501

from zerotorch.multi_layer_net import MultiLayerNet, MultiLayerNetExtend  # noqa: E402,F401  # isort: skip
from zerotorch.convnet import DeepConvNet, SimpleConvNet  # noqa: E402,F401  # isort: skip

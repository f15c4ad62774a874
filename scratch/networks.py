"""The book's networks (ch3–ch8), importable from one place; each family has its own module and
all share ``scratch.book_network.BookNetwork``."""

from scratch.book_network import BookNetwork
from scratch.convnet import DeepConvNet, SimpleConvNet
from scratch.multi_layer_net import MultiLayerNet, MultiLayerNetExtend
from scratch.two_layer_net import SimpleNet, TwoLayerNet, TwoLayerNetCh4, init_network, predict

__all__ = ["BookNetwork", "DeepConvNet", "MultiLayerNet", "MultiLayerNetExtend", "SimpleConvNet",
           "SimpleNet", "TwoLayerNet", "TwoLayerNetCh4", "init_network", "predict"]

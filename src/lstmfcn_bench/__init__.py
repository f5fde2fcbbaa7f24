"""lstmfcn-bench: LSTM-FCN and ALSTM-FCN on the UCR archive, reproduced leak-free."""

__version__ = "0.1.0"

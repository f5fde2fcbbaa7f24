"""The networks: LSTM-FCN and ALSTM-FCN (architecture), their custom layers (attention LSTM,
fused BatchNorm), the training loss, and loading/feeding saved checkpoints (checkpoint)."""

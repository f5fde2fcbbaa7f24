"""Attention LSTM of ALSTM-FCN (Karim et al., 2017), in backend-neutral Keras 3.

At every step t the cell attends over the *whole* input sequence x = (x_1 … x_S), each
x_j ∈ R^F, conditioned on the previous hidden state (Bahdanau et al., 2015):

    e_j = vᵀ tanh(W_a x_j + U_a h_{t-1} + b_a)          j = 1 … S
    α   = softmax_j(e)
    z   = Σ_j α_j x_j                                     (context, in R^F)
    [i, f, g, o] = x_t·W + h_{t-1}·U + z·A + b             (gate order i, f, c, o)
    i, f, o = σ_hard(·);  c_t = f·c_{t-1} + i·tanh(g);  h_t = o·tanh(c_t)

Weights (u = units): W (F, 4u) "kernel", U (u, 4u) "recurrent_kernel", A (F, 4u)
"attention_kernel", b (4u) "bias", W_a (F, u) "attention_W", U_a (u, u) "attention_U",
b_a (u) "attention_b", v (u, 1) "attention_v". Parameter count:
4·(F·u + u·u + F·u + u) + F·u + u·u + u + u.

Initialisers follow the authors' layer: glorot-uniform W, orthogonal U, orthogonal A and W_a,
orthogonal U_a, zero b_a and v (so attention starts uniform), and unit forget bias (which the
authors' code meant but did not apply). σ_hard is Keras 2's hard sigmoid, clip(0.2·x + 0.5, 0, 1),
that the original used (gates.py).

With the paper's dimension shuffle the input is one timestep of T features (S = 1): then α ≡ 1
and z = x, i.e. the attention is inert and the layer is an LSTM with an extra input kernel.
Attention over time needs `shuffle=False` (S = T timesteps of one feature).

Keras 3's `RNN` has no `constants=` argument, so the cell carries the flattened input sequence
(batch, S·F) as a third state that it passes on unchanged; `AttentionLSTM` sets it (and zero
h, c) through `initial_state`.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from ..errors import ConfigError
from .gates import SERIALIZABLE_PACKAGE, hard_sigmoid_legacy


def to_numpy(x) -> np.ndarray:
    """A backend tensor as NumPy, quietly.

    ``keras.ops.convert_to_numpy`` on TensorFlow calls ``np.array`` on the tensor, which raises a
    DeprecationWarning under NumPy 2 (TF's ``__array__`` lacks ``copy=``); ``np.asarray`` does
    not. Torch tensors (possibly on a GPU) still go through Keras.
    """
    if keras.backend.backend() == "torch":
        return ops.convert_to_numpy(x)
    return np.asarray(x)


def _activation(value):
    return hard_sigmoid_legacy if value is None else keras.activations.get(value)


#: The cell's options, which AttentionLSTM takes and hands to its cell, as keyword arguments
#: of either: the default, how each is read from a constructor argument and written into a
#: config.
_OPTIONS = {
    "activation": ("tanh", keras.activations.get, keras.activations.serialize),
    "recurrent_activation": (None, _activation, keras.activations.serialize),
    "kernel_initializer": ("glorot_uniform", keras.initializers.get, keras.initializers.serialize),
    "recurrent_initializer": ("orthogonal", keras.initializers.get, keras.initializers.serialize),
    "attention_initializer": ("orthogonal", keras.initializers.get, keras.initializers.serialize),
    "bias_initializer": ("zeros", keras.initializers.get, keras.initializers.serialize),
    "unit_forget_bias": (True, bool, bool),
}


def _pop_options(kwargs: dict) -> dict:
    """The cell's options among a constructor's keyword arguments (removed from them), each
    read, with the defaults for those not given."""
    return {key: read(kwargs.pop(key, default)) for key, (default, read, _) in _OPTIONS.items()}


def _set_options(layer, options: dict) -> None:
    for key, value in options.items():
        setattr(layer, key, value)


def _options_config(layer) -> dict:
    return {key: write(getattr(layer, key)) for key, (_, _, write) in _OPTIONS.items()}


@keras.saving.register_keras_serializable(package=SERIALIZABLE_PACKAGE)
class AttentionLSTMCell(keras.layers.Layer):
    """One step of the attention LSTM (equations in the module docstring).

    States are ``[h, c, flat_sequence]``; the last, shape (batch, sequence_length·input_dim),
    is returned unchanged so every step sees the whole input. ``AttentionLSTM`` wires this up;
    a bare ``keras.layers.RNN(cell)`` must be given that state through ``initial_state``.
    """

    def __init__(self, units, sequence_length, input_dim, **kwargs):
        options = _pop_options(kwargs)  # activation, initializers...: see _OPTIONS
        super().__init__(**kwargs)
        for what, value in (
            ("units", units),
            ("sequence_length", sequence_length),
            ("input_dim", input_dim),
        ):
            if int(value) < 1:
                raise ConfigError(f"AttentionLSTMCell: {what} must be >= 1, got {value!r}")
        self.units = int(units)
        self.sequence_length = int(sequence_length)
        self.input_dim = int(input_dim)
        _set_options(self, options)
        # Known at construction because keras.layers.RNN reads them in its __init__.
        self.state_size = [self.units, self.units, self.sequence_length * self.input_dim]
        self.output_size = self.units

    def build(self, input_shape):
        features = input_shape[-1]
        if features is not None and features != self.input_dim:
            raise ConfigError(
                f"AttentionLSTMCell built for {self.input_dim} features per step, "
                f"got input shape {tuple(input_shape)}"
            )
        f, u = self.input_dim, self.units
        self.kernel = self.add_weight(
            shape=(f, 4 * u), name="kernel", initializer=self.kernel_initializer
        )
        self.recurrent_kernel = self.add_weight(
            shape=(u, 4 * u), name="recurrent_kernel", initializer=self.recurrent_initializer
        )
        self.attention_kernel = self.add_weight(
            shape=(f, 4 * u), name="attention_kernel", initializer=self.attention_initializer
        )
        if self.unit_forget_bias:

            def bias_initializer(_, *args, **kwargs):
                return ops.concatenate(
                    [
                        self.bias_initializer((u,), *args, **kwargs),
                        keras.initializers.get("ones")((u,), *args, **kwargs),
                        self.bias_initializer((2 * u,), *args, **kwargs),
                    ]
                )

        else:
            bias_initializer = self.bias_initializer
        self.bias = self.add_weight(shape=(4 * u,), name="bias", initializer=bias_initializer)
        self.attention_W = self.add_weight(
            shape=(f, u), name="attention_W", initializer=self.attention_initializer
        )
        self.attention_U = self.add_weight(
            shape=(u, u), name="attention_U", initializer=self.recurrent_initializer
        )
        self.attention_b = self.add_weight(
            shape=(u,), name="attention_b", initializer=self.bias_initializer
        )
        self.attention_v = self.add_weight(
            shape=(u, 1), name="attention_v", initializer=self.bias_initializer
        )
        self.built = True

    def attend(self, sequence, h_tm1):
        """α (batch, S) and context z (batch, F) for sequence (batch, S, F) given h_{t-1}."""
        projected = ops.matmul(sequence, self.attention_W)  # (batch, S, u)
        query = ops.expand_dims(ops.matmul(h_tm1, self.attention_U), 1)  # (batch, 1, u)
        energy = ops.matmul(ops.tanh(projected + query + self.attention_b), self.attention_v)
        # softmax over j, written out: ops.softmax warns on the size-1 axis of the shuffle.
        energy = ops.squeeze(energy, -1)  # (batch, S)
        weights = ops.exp(energy - ops.max(energy, axis=-1, keepdims=True))
        alpha = weights / ops.sum(weights, axis=-1, keepdims=True)
        context = ops.sum(ops.expand_dims(alpha, -1) * sequence, axis=1)  # (batch, F)
        return alpha, context

    def step(self, inputs, h_tm1, c_tm1, flat_sequence):
        """One step; returns (h, c, α, z) so the context figures reuse the exact model math."""
        sequence = ops.reshape(flat_sequence, (-1, self.sequence_length, self.input_dim))
        alpha, context = self.attend(sequence, h_tm1)
        gates = (
            ops.matmul(inputs, self.kernel)
            + ops.matmul(h_tm1, self.recurrent_kernel)
            + ops.matmul(context, self.attention_kernel)
            + self.bias
        )
        gate_i, gate_f, gate_c, gate_o = ops.split(gates, 4, axis=-1)
        i = self.recurrent_activation(gate_i)
        f = self.recurrent_activation(gate_f)
        o = self.recurrent_activation(gate_o)
        c = f * c_tm1 + i * self.activation(gate_c)
        h = o * self.activation(c)
        return h, c, alpha, context

    def call(self, inputs, states):
        h_tm1, c_tm1, flat_sequence = states
        h, c, _, _ = self.step(inputs, h_tm1, c_tm1, flat_sequence)
        return h, [h, c, flat_sequence]

    def get_initial_state(self, batch_size=None):
        # Zeros would make the attention look at an all-zero sequence: refuse loudly.
        raise ConfigError(
            "AttentionLSTMCell needs the input sequence as its third initial state; "
            "use AttentionLSTM, or pass initial_state=[h0, c0, flat(x)] to keras.layers.RNN"
        )

    def get_config(self):
        config = {
            "units": self.units,
            "sequence_length": self.sequence_length,
            "input_dim": self.input_dim,
            **_options_config(self),
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package=SERIALIZABLE_PACKAGE)
class AttentionLSTM(keras.layers.Layer):
    """Attention LSTM over an input of shape (batch, S, F); returns the last h, (batch, units).

    S and F must be known when the layer is built (the cell's state size depends on them), so
    the cell and its ``keras.layers.RNN`` are created in ``build``. Weights live in the cell;
    see the module docstring for equations and shapes.
    """

    def __init__(self, units, **kwargs):
        options = _pop_options(kwargs)  # handed to the cell: see _OPTIONS
        super().__init__(**kwargs)
        if int(units) < 1:
            raise ConfigError(f"AttentionLSTM: units must be >= 1, got {units!r}")
        self.units = int(units)
        _set_options(self, options)
        self.cell = None
        self.rnn = None

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[1] is None or input_shape[2] is None:
            raise ConfigError(
                "AttentionLSTM needs input of shape (batch, timesteps, features) with both "
                f"known when built, got {tuple(input_shape)}"
            )
        sequence_length, input_dim = int(input_shape[1]), int(input_shape[2])
        self.cell = AttentionLSTMCell(
            self.units,
            sequence_length,
            input_dim,
            **{key: getattr(self, key) for key in _OPTIONS},
            dtype=self.dtype_policy,
            name="cell",
        )
        # One step (the dimension shuffle) needs no loop construct: unroll it.
        self.rnn = keras.layers.RNN(
            self.cell, unroll=sequence_length == 1, dtype=self.dtype_policy, name="rnn"
        )
        self.rnn.build(tuple(input_shape))
        self.built = True

    def initial_state(self, inputs):
        """[h0 = 0, c0 = 0, flat(inputs)], the states the RNN starts from."""
        batch = ops.shape(inputs)[0]
        flat = ops.reshape(inputs, (batch, self.cell.sequence_length * self.cell.input_dim))
        zeros = ops.zeros((batch, self.units), dtype=flat.dtype)
        return [zeros, zeros, flat]

    def call(self, inputs, training=None):
        return self.rnn(inputs, initial_state=self.initial_state(inputs), training=training)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        config = {
            "units": self.units,
            **_options_config(self),
        }
        return {**super().get_config(), **config}


def find_attention_layer(layer_or_model) -> AttentionLSTM:
    """The AttentionLSTM itself, or the one in a model (by the name "attention_lstm" first)."""
    if isinstance(layer_or_model, AttentionLSTM):
        return layer_or_model
    if isinstance(layer_or_model, keras.Model):
        layers = layer_or_model.layers
        named = [layer for layer in layers if layer.name == "attention_lstm"]
        found = [layer for layer in named + layers if isinstance(layer, AttentionLSTM)]
        if found:
            return found[0]
    raise ConfigError(
        f"no AttentionLSTM in {getattr(layer_or_model, 'name', layer_or_model)!r}: "
        "context figures need an ALSTM-FCN model"
    )


def attention_weights_and_context(layer_or_model, x, batch_size: int = 1024):
    """Attention weights and context at every step, from the layer's trained weights.

    ``x`` is the attention layer's input, shape (n, S, F) (or (n, S·F), reshaped). Returns
    ``alpha`` (n, S, S) — row t is α over the S input timesteps at step t — and ``z`` (n, S, F).
    Runs the recurrence step by step with the cell's own ``step`` (keras.ops, any backend).
    With the dimension shuffle S = 1, so ``alpha`` ≡ 1 and ``z`` equals ``x``.
    """
    return layer_weights_and_context(find_attention_layer(layer_or_model), x, batch_size)


def layer_weights_and_context(layer: AttentionLSTM, x, batch_size: int = 1024):
    """:func:`attention_weights_and_context` of an AttentionLSTM already found (with
    :func:`find_attention_layer`)."""
    if not layer.built:
        raise ConfigError("the AttentionLSTM is not built yet: call the model once first")
    cell = layer.cell
    steps, features = cell.sequence_length, cell.input_dim
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2 and x.shape[1] == steps * features:
        x = x.reshape(len(x), steps, features)
    if x.ndim != 3 or x.shape[1:] != (steps, features):
        raise ConfigError(
            f"x must have shape (n, {steps}, {features}) for this layer, got {x.shape}"
        )
    alphas, contexts = [], []
    for start in range(0, max(len(x), 1), batch_size):
        chunk = ops.convert_to_tensor(x[start : start + batch_size])
        h, c, flat = layer.initial_state(chunk)
        batch_alpha, batch_context = [], []
        for t in range(steps):
            h, c, alpha, context = cell.step(chunk[:, t, :], h, c, flat)
            batch_alpha.append(to_numpy(alpha))
            batch_context.append(to_numpy(context))
        alphas.append(np.stack(batch_alpha, axis=1))
        contexts.append(np.stack(batch_context, axis=1))
    return np.concatenate(alphas), np.concatenate(contexts)

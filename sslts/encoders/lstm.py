"""The recurrent encoder of the temporal-contrast tutorial, made length-agnostic.

The tutorial ("Applying Self-Supervised Learning to Time-Series Representations with
PyTorch", Sling Academy, 2024) runs a one-layer LSTM (hidden size 128) over a
30-step window, flattens the 30 step outputs and maps them with one linear layer to
a 128-d embedding, which ties the network to that window length.  Here the linear
layer is applied to every step output instead (shared weights), giving one vector
per timestamp; the mean of these vectors over the window is the tutorial's
flatten-then-linear map with its per-position weights tied, and works for any
length.

``bidirectional=True`` adds a second LSTM per layer that reads each series backwards,
from its last observed step, so that every step's vector sees the whole window.
"""

from __future__ import annotations

import torch
from torch import nn

from .dropout import FastDropout

__all__ = ["LSTMEncoder"]


class LSTMEncoder(nn.Module):
    """LSTM followed by a per-timestamp linear map: (B, T, C) -> (B, T, output_dims).

    Parameters
    ----------
    input_dims : int
        Input channels.
    output_dims : int, default=128
        Size of each timestamp's representation (the tutorial's 128).
    hidden_dims : int, default=128
        LSTM hidden size (the tutorial's 128).
    n_layers : int, default=1
        Stacked LSTM layers (the tutorial uses 1).
    dropout : float, default=0.0
        Dropout between stacked LSTM layers (no effect with one layer).
    bidirectional : bool, default=False
        Also read each series backwards (a second LSTM of ``hidden_dims`` units per
        layer; the two directions are concatenated), so that the vector of step
        ``t`` depends on the whole series.  False is the tutorial's encoder.

    Notes
    -----
    The LSTM starts from zero states.  Unidirectional, the output at step ``t``
    depends on steps ``0 .. t`` only.  Bidirectional, the backward direction of each
    series starts at its last observed step (a step with any non-NaN channel), so
    in both cases NaN right-padding of a variable-length series never changes the
    outputs at its observed steps.  Missing values (a timestamp with any NaN
    channel) are read as zeros, the mean of standardised data.

    Examples
    --------
    >>> import torch
    >>> enc = LSTMEncoder(2, output_dims=8, hidden_dims=16)
    >>> enc(torch.randn(4, 30, 2)).shape
    torch.Size([4, 30, 8])
    >>> enc(torch.randn(4, 7, 2)).shape  # any length
    torch.Size([4, 7, 8])
    >>> LSTMEncoder(2, 8, 16, bidirectional=True)(torch.randn(4, 30, 2)).shape
    torch.Size([4, 30, 8])
    """

    def __init__(self, input_dims, output_dims=128, hidden_dims=128, n_layers=1, dropout=0.0,
                 bidirectional=False):
        super().__init__()
        self.output_dims = output_dims
        self.bidirectional = bool(bidirectional)
        width = hidden_dims * (2 if self.bidirectional else 1)
        # One module per layer (not nn.LSTM's num_layers): the dropout between them
        # then draws from the fit's generator, not from torch's global one.
        self.layers = nn.ModuleList(
            nn.LSTM(input_dims if k == 0 else width, hidden_dims, batch_first=True,
                    bidirectional=self.bidirectional)
            for k in range(n_layers)
        )
        self.dropout = FastDropout(dropout)
        self.head = nn.Linear(width, output_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode a batch.

        Parameters
        ----------
        x : Tensor of shape (B, T, C)
            Series; NaN marks missing values.

        Returns
        -------
        Tensor of shape (B, T, output_dims)
        """
        observed = ~torch.isnan(x).any(dim=-1, keepdim=True)
        h = torch.where(observed, x, 0.0)
        lengths = self._padded_lengths(x) if self.bidirectional else None
        for k, layer in enumerate(self.layers):
            h = self._run(layer, self.dropout(h) if k else h, lengths)
        return self.head(h)

    @staticmethod
    def _padded_lengths(x: torch.Tensor) -> torch.Tensor | None:
        """Steps up to the last one with an observed value, per series (None: all T)."""
        seen = ~torch.isnan(x).all(dim=-1)  # (B, T)
        if bool(seen[:, -1].all()):  # no right padding: the fast, unpacked path
            return None
        steps = torch.arange(1, x.shape[1] + 1, device=x.device)
        return (seen * steps).amax(dim=1).clamp_(min=1).cpu()

    @staticmethod
    def _run(layer: nn.LSTM, h: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        if lengths is None:
            return layer(h)[0]
        # Packing starts the backward direction of each series at its own last step.
        packed = nn.utils.rnn.pack_padded_sequence(h, lengths, batch_first=True,
                                                   enforce_sorted=False)
        out = layer(packed)[0]
        return nn.utils.rnn.pad_packed_sequence(out, batch_first=True,
                                                total_length=h.shape[1])[0]

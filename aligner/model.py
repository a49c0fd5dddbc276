"""The neural aligner's network: every mic through one shared encoder, mixed across mics, the grid added, then a
temporal trunk (dilated convolutions, or a transformer for the ablation) and two heads per 5 ms frame.

Inputs (batch B, mics M, frames T):
- ``mics`` (B, M, T, MIC_FEATURES) and ``roles`` (B, M, len(MODEL_ROLES)) from :mod:`aligner.features`;
- ``mic_mask`` (B, M) bool, False for padding mics (sessions in a batch have different mic counts);
- ``grid`` (B, T, GRID_FEATURES), zeros when the variant does not see the grid.

Outputs: ``onsets`` (B, len(CLASSES), T) logits that a stroke of each drum class starts in the frame, and ``lines``
(B, 3, T) logits that such a stroke belongs to the line before (-1), at (0) or after (+1) its nearest 16th line.

The mic mix is attention pooling plus a max over mics, so the model takes any number of mics in any order.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from aligner.features import GRID_FEATURES, MIC_FEATURES, MODEL_ROLES

__all__ = ["CLASSES", "LINE_SHIFTS", "ModelConfig", "AlignerNet", "save_weights", "load_weights"]

#: Drum classes the model reports (the classic detector's names).
CLASSES = ("kick", "snare", "tom", "hihat", "cymbal")
#: Line choices relative to the nearest 16th line, in head order.
LINE_SHIFTS = (-1, 0, 1)


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the network; stored beside the weights."""

    channels: int = 48
    mic_channels: int = 32
    trunk: str = "tcn"  # or "transformer"
    layers: int = 10  # TCN blocks (dilations 1 … 2^(layers-1)) or transformer layers
    heads: int = 4
    downsample: int = 4  # the transformer attends over frames of downsample × 5 ms
    use_grid: bool = True

    def to_json(self) -> dict:
        """Plain values for the weights file's metadata."""
        return asdict(self)


class _TCNBlock(nn.Module):
    def __init__(self, channels: int, dilation: int):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, dilation=dilation, padding=dilation)
        self.mix = nn.Conv1d(channels, channels, 1)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mix(self.act(self.conv(x)))


class _TransformerTrunk(nn.Module):
    """Attention over downsampled frames, added back at full rate to a local convolutional path."""

    def __init__(self, channels: int, layers: int, heads: int, downsample: int):
        super().__init__()
        self.downsample = downsample
        self.down = nn.Conv1d(channels, channels, downsample, stride=downsample)
        self.position = nn.Conv1d(channels, channels, 7, padding=3, groups=channels)  # relative position, locally
        layer = nn.TransformerEncoderLayer(channels, heads, 2 * channels, dropout=0.0, batch_first=True,
                                           activation="gelu", norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.local = nn.Sequential(nn.Conv1d(channels, channels, 5, padding=2), nn.GELU(),
                                   nn.Conv1d(channels, channels, 5, padding=2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[-1]
        pad = (-t) % self.downsample
        coarse = self.down(nn.functional.pad(x, (0, pad)))
        coarse = coarse + self.position(coarse)
        coarse = self.encoder(coarse.transpose(1, 2)).transpose(1, 2)
        up = coarse.repeat_interleave(self.downsample, dim=2)[..., :t]
        return x + up + self.local(x + up)


class AlignerNet(nn.Module):
    """See the module docstring."""

    def __init__(self, config: ModelConfig = ModelConfig()):
        super().__init__()
        self.config = config
        c, mc = config.channels, config.mic_channels
        self.encoder = nn.Sequential(
            nn.Conv1d(MIC_FEATURES + len(MODEL_ROLES), mc, 5, padding=2), nn.GELU(),
            nn.Conv1d(mc, mc, 3, padding=1), nn.GELU(),
        )
        self.attend = nn.Conv1d(mc, 1, 1)
        self.merge = nn.Conv1d(2 * mc, c, 1)
        self.grid = nn.Conv1d(GRID_FEATURES, c, 1) if config.use_grid else None
        if config.trunk == "tcn":
            self.trunk = nn.Sequential(*[_TCNBlock(c, 2 ** i) for i in range(config.layers)])
        elif config.trunk == "transformer":
            self.trunk = _TransformerTrunk(c, config.layers, config.heads, config.downsample)
        else:
            raise ValueError(f"unknown trunk {config.trunk!r}")
        self.act = nn.GELU()
        self.onsets = nn.Conv1d(c, len(CLASSES), 1)
        self.lines = nn.Conv1d(c, len(LINE_SHIFTS), 1)

    def forward(self, mics: torch.Tensor, roles: torch.Tensor, mic_mask: torch.Tensor,
                grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """See the module docstring for shapes."""
        b, m, t, _ = mics.shape
        role_frames = roles[:, :, None, :].expand(b, m, t, roles.shape[-1])
        x = torch.cat([mics, role_frames], dim=-1).reshape(b * m, t, -1).transpose(1, 2)
        h = self.encoder(x).reshape(b, m, -1, t)  # (B, M, mc, T)
        score = self.attend(h.reshape(b * m, -1, t)).reshape(b, m, t)
        score = score.masked_fill(~mic_mask[:, :, None], float("-inf"))
        weights = torch.softmax(score, dim=1)[:, :, None, :]
        pooled = (weights * h).sum(dim=1)
        peak = h.masked_fill(~mic_mask[:, :, None, None], float("-inf")).amax(dim=1)
        z = self.merge(torch.cat([pooled, peak], dim=1))
        if self.grid is not None:
            z = z + self.grid(grid.transpose(1, 2))
        z = self.act(self.trunk(z))
        return self.onsets(z), self.lines(z)


def save_weights(model: AlignerNet, path: str | Path, info: dict) -> Path:
    """Write the weights and ``info`` (with the model's config) as safetensors; returns the path."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"config": json.dumps(model.config.to_json(), sort_keys=True), "info": json.dumps(info, sort_keys=True)}
    tensors = {k: v.detach().contiguous() for k, v in sorted(model.state_dict().items())}
    save_file(tensors, str(path), metadata=meta)
    return path


def load_weights(path: str | Path) -> tuple[AlignerNet, dict]:
    """Read a model written by :func:`save_weights`.

    Returns
    -------
    (AlignerNet, dict)
        The model in eval mode and the info stored with it.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    model = AlignerNet(ModelConfig(**json.loads(meta["config"])))
    model.load_state_dict(load_file(str(path)))
    model.eval()
    return model, json.loads(meta.get("info", "{}"))

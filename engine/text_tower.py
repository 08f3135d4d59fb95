"""The text tower's forward pass in pieces, with padding trimmed.

open_clip's `encode_text` always runs the full 77-token context. The tower is causal and
pools at the end-of-text token, so tokens after it never influence the result: cutting the
batch to its longest real sequence gives the same embeddings, several times faster. The
pieces (`embed`, `run_blocks`, `head`) also let the trainer cache the frozen lower blocks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def trim(tokens: torch.Tensor) -> torch.Tensor:
    """Cut a [N, 77] token batch to the longest non-padding length in it."""
    lengths = (tokens != 0).sum(dim=1)
    return tokens[:, : max(int(lengths.max()), 1)]


def embed(model: torch.nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """Token plus positional embeddings: the input of the first block."""
    cast = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast)
    return x + model.positional_embedding[: tokens.shape[1]].to(cast)


def run_blocks(model: torch.nn.Module, x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Residual blocks [start, stop) of the text transformer, batch first."""
    length = x.shape[1]
    mask = model.attn_mask[:length, :length] if model.attn_mask is not None else None
    for block in model.transformer.resblocks[start:stop]:
        x = block(x, attn_mask=mask)
    return x


def head(model: torch.nn.Module, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Final norm, end-of-text pooling and projection; returns unit vectors."""
    from open_clip.transformer import text_global_pool

    x = model.ln_final(x)
    x = text_global_pool(x, tokens, model.text_pool_type, eos_token_id=getattr(model, "text_eos_id", None))
    if model.text_projection is not None:
        x = model.text_projection(x) if isinstance(model.text_projection, torch.nn.Linear) else x @ model.text_projection
    return F.normalize(x, dim=-1)


def block_count(model: torch.nn.Module) -> int:
    return len(model.transformer.resblocks)


def encode(model: torch.nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """The whole text tower on already trimmed tokens."""
    x = embed(model, tokens)
    x = run_blocks(model, x, 0, block_count(model))
    return head(model, x, tokens)

"""Checks for notebook 08 (quantization): quantize / dequantize, and the straight-through estimator."""
from __future__ import annotations

import torch

from . import call, expect, expect_close, passed
from ..quantize.affine import compute_params, dequantize as ref_dequantize, quantize as ref_quantize
from ..quantize.fake import fake_quantize


def _cases():
    g = torch.Generator().manual_seed(8)
    x = torch.randn(6, 30, generator=g) * 2
    per_tensor = compute_params(x.min(), x.max(), 4, "asymmetric")
    lo, hi = x.min(1).values, x.max(1).values
    per_channel = compute_params(lo, hi, 8, "symmetric", axis=0)
    return x, [("4-bit asymmetric per tensor", per_tensor), ("8-bit symmetric per channel", per_channel)]


def check_quantize(quantize, dequantize) -> None:
    """``quantize(x, scale, zero_point, q_min, q_max)`` and ``dequantize(q, scale, zero_point)``."""
    x, cases = _cases()
    for name, p in cases:
        scale, zero_point = p.reshape_for(x)
        q = call(quantize, x, scale, zero_point, p.q_min, p.q_max, what="quantize")
        expect(isinstance(q, torch.Tensor), f"quantize to return a tensor ({name})")
        expect_close(q, ref_quantize(x, p), f"the integers q = clamp(round(x / s) + z, q_min, q_max) ({name})",
                     "round x / s to the nearest integer, add the zero point, then clamp to [q_min, q_max]")
        expect(bool(torch.all(q == torch.round(q))), f"whole numbers from quantize ({name})", "use torch.round")
        x_hat = call(dequantize, q, scale, zero_point, what="dequantize")
        expect_close(x_hat, ref_dequantize(ref_quantize(x, p), p), f"x_hat = s (q - z) ({name})",
                     "subtract the zero point before multiplying by the scale")
        step = scale.expand_as(x)
        expect(bool(((x - x_hat).abs() <= step / 2 + 1e-5).all()),
               f"a round-trip error of at most half a step inside the range ({name})")
    far = torch.tensor([100.0, -100.0])
    p = compute_params(-1.0, 1.0, 8)
    q = call(quantize, far, p.scale, p.zero_point, p.q_min, p.q_max, what="quantize")
    expect_close(q, torch.tensor([127.0, -127.0]), "values outside the range clipped to q_max and q_min",
                 "torch.clamp(..., q_min, q_max)")
    passed("quantize and dequantize match q = clamp(round(x/s) + z) and x ~ s (q - z), per tensor and per channel")


def check_ste(fake_quantize_ste) -> None:
    """``fake_quantize_ste(x, scale, zero_point, q_min, q_max)``: grid values forward, STE gradient back."""
    x, cases = _cases()
    for name, p in cases:
        scale, zero_point = p.reshape_for(x)
        xs = (x * 1.3).clone().requires_grad_()                 # some values fall outside the range
        out = call(fake_quantize_ste, xs, scale.float(), zero_point.float(), p.q_min, p.q_max, what="fake_quantize_ste")
        ref_x = (x * 1.3).clone().requires_grad_()
        ref = fake_quantize(ref_x, p)
        expect_close(out, ref, f"forward values on the grid, s (clamp(round(x/s) + z) - z) ({name})")
        expect(out.requires_grad, "an output that gradients can flow through",
               "return the result of your autograd Function's apply, not a detached tensor")
        out.backward(torch.ones_like(out))
        ref.backward(torch.ones_like(ref))
        expect(xs.grad is not None, "a gradient for x")
        expect_close(xs.grad, ref_x.grad, f"a gradient of 1 inside the clipping range and 0 outside ({name})",
                     "in backward, multiply grad_output by the mask s (q_min - z) <= x <= s (q_max - z)")
    passed("the straight-through estimator passes gradients inside the clipping range and blocks them outside")

"""Fewer bits per number: quantization, weight sharing and Deep Compression (notebook 08).

``affine``           q = clamp(round(x / s) + z), x ~ s (q - z): symmetric / asymmetric, per tensor / channel
``calibrate``        activation ranges after training: min-max, percentile, MSE-optimal clipping
``fake``             fake quantization with the straight-through estimator; PTQ and QAT wrappers
``kmeans``           weight sharing by k-means (Han et al. 2016)
``huffman``          Huffman codes for the shared-weight indices
``deep_compression`` prune -> share -> Huffman, with the stored size of every stage
``backend``          real int8 inference on the CPU through ONNX Runtime's integer kernels
"""
from .affine import (QuantConfig, QuantParams, compute_params, dequantize, grid, integer_range,
                     observe_params, quantization_error, quantize, quantize_dequantize)
from .calibrate import mse_optimal_range
from .fake import fake_quantize, fold_batchnorm, prepare_qat, quantize_model

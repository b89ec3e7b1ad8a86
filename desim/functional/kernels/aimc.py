"""Functional model of an analog in-memory-computing (AIMC) crossbar matrix-vector multiply.

A crossbar of ``rows x cols`` cells holds signed weights as normalised conductances
``g`` in [-1, 1] (a differential pair, in units of G_max). With ``D = 2^(dac_bits-1) - 1``,
``Q = 2^(weight_bits-1) - 1``, ``A = 2^(adc_bits-1) - 1`` and ``round`` halves away from
zero, an MVM of an input vector ``x`` against weights ``W`` (``rows_used x cols_used``) is:

Programming (once, :func:`program`), per column ``c`` with scale ``s_c`` (default
``max_r |W[r, c]|``)::

    g[r, c] = clip(round(W[r, c] / s_c * Q), -Q, Q) / Q  +  sigma_prog * N(0, 1)

MVM at ``t`` seconds after programming (:func:`mvm`)::

    u[r]   = clip(round(x[r] / x_fs * D), -D, D) / D                  DAC
    y[c]   = sum_r u[r] * g[r, c] * (max(t, t0) / t0)^(-nu)           drifted analog sum
    FS     = rows / adc_gain                                          analog full scale
    z[c]   = y[c] / FS + sigma_read * N(0, 1)                         read noise, fraction of FS
    code   = clip(round(z[c] * A), -A, A)                             ADC
    out[c] = code * FS / A * x_fs * s_c                               estimate of (x @ W)[c]

With every non-ideality off and enough bits, ``out`` is the exact product ``x @ W``;
``out / lsb`` (:attr:`CrossbarState.lsb`) are the ADC codes. Timing (130 ns per MVM,
programming cost) belongs to the crossbar's hardware model, not here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from desim.errors import SpecError
from desim.spec import Spec, param

_SRC_IMA = "GVSoC IMA model (gvsoc-pulp models/pulp/ima, calibration.md)"
_SRC_PCM = "Nandakumar et al., ICECS 2019, as fitted in IBM aihwkit's PCMLikeNoiseModel"


@dataclass(frozen=True)
class CrossbarSpec(Spec):
    """Geometry, converter precisions and non-idealities of one analog crossbar."""

    rows: int = param(256, doc="word lines: inputs of one MVM", unit="rows", ge=1,
                      source=f"256 x 256 array: {_SRC_IMA}; IBM HERMES (JSSC 2022)")
    cols: int = param(256, doc="bit lines: outputs of one MVM, one ADC each", unit="cols", ge=1,
                      source=f"256 x 256 array: {_SRC_IMA}; IBM HERMES (JSSC 2022)")
    weight_bits: int = param(4, doc="signed weight precision, levels -(2^(b-1)-1)..2^(b-1)-1",
                             unit="bit", ge=2, le=16,
                             source=f"4-bit signed weights in [-7, 7]: {_SRC_IMA}")
    dac_bits: int = param(8, doc="signed input DAC precision", unit="bit", ge=2, le=16,
                          source=f"8-bit DAC: {_SRC_IMA}; HERMES 8-bit PWM inputs")
    adc_bits: int = param(8, doc="signed output ADC precision", unit="bit", ge=2, le=24,
                          source=f"8-bit ADC: {_SRC_IMA}; HERMES one ADC per column")
    input_full_scale: float = param(127.0, doc="input value the DAC maps to its top code",
                                    unit="input LSB", gt=0,
                                    source=f"int8 activations, x / 127: {_SRC_IMA}")
    adc_gain: float = param(1.0, doc="ADC gain: full scale is rows / gain products of a "
                            "full-scale input and weight (1 never clips)", gt=0,
                            source="no gain: the ADC range covers the worst-case column sum; "
                            "set per layer by the mapping")
    read_noise_sigma: float = param(0.0194, doc="std of the Gaussian error added to each "
                                    "column output per MVM", unit="fraction of ADC full scale",
                                    ge=0, source="IBM HERMES (Khaddam-Aljameh et al., JSSC "
                                    "2022): MVM error sigma 1.94 % at 8 bit (calibration.md, "
                                    "card); books every error source as read noise")
    prog_noise_sigma: float = param(0.0, doc="std of each cell's conductance error, drawn "
                                    "once when the crossbar is programmed",
                                    unit="fraction of G_max", ge=0,
                                    source="off: the HERMES total is booked as read noise; "
                                    f"PCM cells show 1-4 % ({_SRC_PCM})")
    drift_nu: float = param(0.0, doc="drift exponent: G(t) = G * (t / t0)^-nu after t0",
                            ge=0, source="off: HERMES' figure is measured without drift; PCM "
                            f"mean ~0.05 at G_max ({_SRC_PCM})")
    drift_t0_s: float = param(20.0, doc="time after programming at which conductances equal "
                              "their programmed values", unit="s", gt=0,
                              source="t_0 = 20 s in IBM aihwkit's PCMLikeNoiseModel")

    @property
    def dac_levels(self) -> int:
        """Largest DAC code ``D``."""
        return 2 ** (self.dac_bits - 1) - 1

    @property
    def weight_levels(self) -> int:
        """Largest weight code ``Q``."""
        return 2 ** (self.weight_bits - 1) - 1

    @property
    def adc_levels(self) -> int:
        """Largest ADC code ``A``."""
        return 2 ** (self.adc_bits - 1) - 1


@dataclass(frozen=True)
class CrossbarState:
    """A programmed crossbar: conductances (noise included) and the scales to read it."""

    spec: CrossbarSpec
    #: programmed conductances ``g`` [rows_used, cols_used], in units of G_max
    conductance: np.ndarray
    #: weight value of a full conductance, per column (``s_c``)
    weight_scale: np.ndarray
    adc_gain: float

    @property
    def full_scale(self) -> float:
        """Analog column sum ``FS`` that maps to the top ADC code."""
        return self.spec.rows / self.adc_gain

    @property
    def lsb(self) -> np.ndarray:
        """Value of one ADC code in units of ``x @ W``, per column."""
        s = self.spec
        return self.full_scale / s.adc_levels * s.input_full_scale * self.weight_scale


def _round(v: np.ndarray) -> np.ndarray:
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def program(weights: np.ndarray, rng: np.random.Generator, spec: CrossbarSpec | None = None,
            *, weight_scale: float | np.ndarray | None = None,
            adc_gain: float | None = None) -> CrossbarState:
    """Quantise ``weights`` [rows_used, cols_used] to conductances and add programming noise.

    ``rng`` is the crossbar component's seeded stream; it is drawn from only when
    ``prog_noise_sigma > 0``. ``weight_scale`` (scalar or per column) defaults to each
    column's largest magnitude; ``adc_gain`` defaults to the spec's.
    """
    spec = spec or CrossbarSpec()
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] > spec.rows or w.shape[1] > spec.cols or 0 in w.shape:
        raise SpecError(f"weights: expected a 2-D [rows, cols] array of at most "
                        f"{spec.rows} x {spec.cols}, got shape {w.shape}; split the layer "
                        "over several crossbars")
    if weight_scale is None:
        scale = np.abs(w).max(axis=0)
        scale[scale == 0] = 1.0
    else:
        scale = np.broadcast_to(np.asarray(weight_scale, np.float64), (w.shape[1],)).copy()
        if not np.all(scale > 0):
            raise SpecError("weight_scale: must be > 0")
    q = spec.weight_levels
    g = np.clip(_round(w / scale * q), -q, q) / q
    if spec.prog_noise_sigma > 0:
        g = g + spec.prog_noise_sigma * rng.standard_normal(g.shape)
    gain = spec.adc_gain if adc_gain is None else float(adc_gain)
    if not gain > 0:
        raise SpecError(f"adc_gain: must be > 0, got {adc_gain!r}")
    return CrossbarState(spec, g, scale, gain)


def drift_factor(spec: CrossbarSpec, t_s: float) -> float:
    """Conductance ratio ``(max(t, t0) / t0)^-nu`` at ``t_s`` seconds after programming."""
    if t_s < 0:
        raise SpecError(f"t_s: time since programming must be >= 0 s, got {t_s!r}")
    return (max(t_s, spec.drift_t0_s) / spec.drift_t0_s) ** -spec.drift_nu


def mvm(state: CrossbarState, x: np.ndarray, t_s: float,
        rng: np.random.Generator) -> np.ndarray:
    """Estimate ``x @ W`` for ``x`` [rows_used] or [batch, rows_used] (float64 result).

    ``t_s`` is the time since programming in seconds (drift); ``rng`` supplies the read
    noise, one independent draw per column per MVM, only when ``read_noise_sigma > 0``.
    """
    s = state.spec
    xv = np.asarray(x, dtype=np.float64)
    if xv.ndim not in (1, 2) or xv.shape[-1] != state.conductance.shape[0]:
        raise SpecError(f"x: expected [{state.conductance.shape[0]}] or "
                        f"[batch, {state.conductance.shape[0]}] inputs, got shape {xv.shape}")
    d = s.dac_levels
    u = np.clip(_round(xv / s.input_full_scale * d), -d, d) / d
    z = (u @ state.conductance) * (drift_factor(s, t_s) / state.full_scale)
    if s.read_noise_sigma > 0:
        z = z + s.read_noise_sigma * rng.standard_normal(z.shape)
    a = s.adc_levels
    return np.clip(_round(z * a), -a, a) * state.lsb

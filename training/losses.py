"""Training losses and the differentiable SI-SDR used for validation.

Every loss takes complex STFTs or waveforms as torch tensors; nothing here reads data or
builds a model, so the trainer and quantisation-aware fine-tuning share one definition.
"""

from __future__ import annotations


def spectral_loss(
    est_spec, ref_spec, compress: float, complex_weight: float, distortion_weight: float = 1.0
):
    """MSE of power-law compressed magnitudes (+ compressed complex spectra).

    Compression (|X|^0.3) weights quiet time-frequency regions the way hearing does, so the
    mask is not trained for loud bins alone. `distortion_weight` > 1 makes removing speech
    (estimate below the reference) cost more than leaving noise, which favours
    intelligibility over noise removal.
    """
    import torch

    eps = 1e-8
    est_mag = est_spec.abs().clamp_min(eps)
    ref_mag = ref_spec.abs().clamp_min(eps)
    est_c, ref_c = est_mag**compress, ref_mag**compress
    err = est_c - ref_c
    weight = torch.where(err < 0, distortion_weight, 1.0)
    mag_loss = torch.mean(weight * err**2)
    cplx_loss = torch.mean(
        torch.abs(est_c * est_spec / est_mag - ref_c * ref_spec / ref_mag) ** 2
    )
    return (1 - complex_weight) * mag_loss + complex_weight * cplx_loss


def si_sdr(ref, est):
    """Scale-invariant SDR in dB per row of (B, L) tensors, differentiable.

    The same definition and the same (reference, estimate) order as the numpy metric
    `hushkit.training.metrics.si_sdr`. Its 1e-8 energy guards (the metric's are 1e-20), in
    the numerator too, keep a float32 row with a silent reference finite, gradient included
    (the metric calls it undefined); at speech levels the two agree to 1e-4 dB.
    """
    import torch

    ref = ref - ref.mean(-1, keepdim=True)
    est = est - est.mean(-1, keepdim=True)
    alpha = (est * ref).sum(-1, keepdim=True) / (ref.square().sum(-1, keepdim=True) + 1e-8)
    target = alpha * ref
    return 10 * torch.log10(
        (target.square().sum(-1) + 1e-8) / ((est - target).square().sum(-1) + 1e-8)
    )


def sisdr_loss(ref, est):
    """The SI-SDR term of the training loss (`sisdr_weight`): minus the batch's mean SI-SDR
    in dB / 100, clamped per row to -30..60 dB because a segment without speech has no
    defined SI-SDR."""
    return -si_sdr(ref, est).clamp(-30.0, 60.0).mean() / 100.0


def enhancement_loss(est_spec, ref_spec, inverse, weights):
    """The training objective, for the trainer and quantization-aware fine-tuning alike:
    `spectral_loss`, plus `sisdr_loss` on the waveforms (`inverse` is the STFT's inverse) when
    `weights.sisdr_weight` is set. `weights` carries compress, complex_weight,
    distortion_weight and sisdr_weight (a TrainConfig or a QATConfig)."""
    loss = spectral_loss(
        est_spec, ref_spec, weights.compress, weights.complex_weight, weights.distortion_weight
    )
    if weights.sisdr_weight:
        loss = loss + weights.sisdr_weight * sisdr_loss(inverse(ref_spec), inverse(est_spec))
    return loss

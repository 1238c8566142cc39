"""The training step's clipped gradients equal torch's clip_grad_norm_ over all parameters (one
total norm) applied to the same gradients."""
from hypothesis import example, given

from parity.budget import examples
from parity.check_clipping import check_clipping
from parity.fixed_configs import RESNET
from parity.strategies import ClipCase, clip_cases


@examples(3)
@given(clip_cases())
@example(ClipCase(RESNET, 0.25))
def test_clipped_gradients_match_torch(case):
    check_clipping(case)


def test_clip_rule_on_both_sides_of_max_norm():
    """clip_by_total_norm itself against torch's clip_grad_norm_ on fixed gradients: max_norm
    below the total norm (scaled down) and above it (untouched), the branch a drawn fraction
    reaches only by chance; and gradients so small that torch's 1e-6 in the norm counts."""
    import numpy as np

    rng = np.random.default_rng(7)
    grads = [rng.standard_normal(s).astype(np.float32) for s in ((3, 4), (5,), (2, 2, 3))]
    tiny = [g * np.float32(1e-6) for g in grads]  # total norm ~4e-6: torch's 1e-6 term counts
    for grads in (grads, tiny):
        total = float(np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads)))
        check_clip_rule(grads, (0.3 * total, 3.0 * total))


def check_clip_rule(grads, max_norms):
    import mindspore as ms
    import numpy as np
    import torch

    from ms_acmix.train.step import clip_by_total_norm

    for max_norm in max_norms:
        got = clip_by_total_norm(tuple(ms.Tensor(g) for g in grads), max_norm)
        params = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads]
        for p, g in zip(params, grads):
            p.grad = torch.from_numpy(g.copy())
        torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=2.0)
        for g_ms, p in zip(got, params):
            np.testing.assert_allclose(g_ms.asnumpy(), p.grad.numpy(), rtol=2e-6, atol=0)


def test_step_unscales_before_it_applies():
    """No clipping, a static loss scale of 1024: the optimiser is handed exactly the gradients of
    the loss (loss = sum <p, G>: its gradient is G), so the step divides the scale back out."""
    import mindspore as ms
    import numpy as np
    from mindspore import Parameter, Tensor

    from ms_acmix.train.step import TrainStep
    from parity.check_clipping import LOSS_SCALE, GivenGradients, GradRecorder

    rng = np.random.default_rng(11)
    grads = [rng.standard_normal(s).astype(np.float32) for s in ((3, 2), (4,))]
    params = [Parameter(Tensor(np.zeros(g.shape, np.float32)), name=f"p{i}")
              for i, g in enumerate(grads)]
    recorder = GradRecorder(params)
    step = TrainStep(GivenGradients(params, grads), recorder, Tensor(LOSS_SCALE, ms.float32))
    step(Tensor(np.zeros(1, np.float32)), Tensor(np.zeros(1, np.float32)))
    for seen, g in zip(recorder.seen, grads):
        np.testing.assert_allclose(seen.asnumpy(), g, rtol=1e-6, atol=0)

"""Learning-rate schedules against the official formulas; mixup/cutmix/label-smoothing targets."""
import math

import numpy as np
import pytest
import torch

from ms_acmix.train.mixup import MixParams, cutmix_box, draw_mix, mix_batch, smooth_one_hot
from ms_acmix.train.schedule import lr_per_step, scaled_lrs


def official_resnet_lr(lr, epoch, step, len_epoch, epochs):
    """ResNet/main.py adjust_learning_rate_iter_warmup, 'cosine' branch."""
    if epoch < 5:
        return lr / 4 + 3 * lr / 4 * float(1 + step + epoch * len_epoch) / (5.0 * len_epoch)
    return 0.5 * lr * (1 + math.cos(math.pi * float((epoch - 5) * len_epoch + step)
                                    / float((epochs - 5) * len_epoch)))


def test_resnet_schedule_matches_official_formula():
    lr, steps, epochs = 0.1, 7, 12
    got = lr_per_step(lr, lr / 4, 0.0, 5 * steps, steps * epochs, warmup_prefix=True)
    want = [official_resnet_lr(lr, e, s, steps, epochs)
            for e in range(epochs) for s in range(steps)]
    np.testing.assert_allclose(got, want, rtol=1e-6)


def timm_cosine(t, base, warmup_lr, min_lr, warmup_t, t_initial):
    """timm CosineLRScheduler(t_in_epochs=False, warmup_prefix=False, cycle_limit=1)."""
    if t < warmup_t:
        return warmup_lr + t * (base - warmup_lr) / warmup_t
    return min_lr + 0.5 * (base - min_lr) * (1 + math.cos(math.pi * t / t_initial))


# (7, 0): no warm-up (timm's warmup_t=0); (1, 0): a one-step run
@pytest.mark.parametrize("total, warm", [(300, 20), (7, 0), (1, 0)])
def test_swin_schedule_matches_timm_cosine(total, warm):
    got = lr_per_step(1e-3, 1e-6, 1e-5, warm, total, warmup_prefix=False)
    # the official loop calls step_update(t) after step t: step t runs with f(t - 1)
    want = [timm_cosine(max(t - 1, 0), 1e-3, 1e-6, 1e-5, warm, total) for t in range(total)]
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_cosine_after_the_warmup_prefix_ends_at_min_lr():
    """warmup_prefix: after W warm-up steps, torch's CosineAnnealingLR(T_max=T-W, eta_min)."""
    lr, min_lr, warm, total = 0.1, 0.004, 4, 20
    got = lr_per_step(lr, lr / 4, min_lr, warm, total, warmup_prefix=True)
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total - warm, eta_min=min_lr)
    want = []
    for _ in range(total - warm):
        want.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    np.testing.assert_allclose(got[warm:], want, rtol=1e-6)


def test_linear_scaling_with_global_batch():
    opt = {"lr": 5e-4, "warmup_lr": 5e-7, "min_lr": 5e-6, "lr_scale_batch": 512}
    assert scaled_lrs(opt, 1024) == pytest.approx((1e-3, 1e-6, 1e-5))
    assert scaled_lrs({**opt, "lr_scale_batch": 0}, 1024) == pytest.approx((5e-4, 5e-7, 5e-6))
    # a reference batch of one image (any positive value scales): lr x global batch
    assert scaled_lrs({**opt, "lr_scale_batch": 1}, 64) == pytest.approx((3.2e-2, 3.2e-5, 3.2e-4))


def test_schedule_rejects_bad_lengths():
    with pytest.raises(ValueError, match="total_steps=0"):
        lr_per_step(0.1, 0.0, 0.0, 0, 0, True)
    with pytest.raises(ValueError, match="warmup_steps=-1"):
        lr_per_step(0.1, 0.0, 0.0, -1, 10, False)


@pytest.mark.parametrize("mode,on,off", [("uniform", 1 - 0.1 + 0.01, 0.01),
                                         ("others", 0.9, 0.1 / 9)])
def test_label_smoothing_modes(mode, on, off):
    t = smooth_one_hot(np.array([3, 0]), 10, 0.1, mode)
    assert t.shape == (2, 10)
    assert t[0, 3] == pytest.approx(on) and t[0, 0] == pytest.approx(off)
    np.testing.assert_allclose(t.sum(1), 1.0, rtol=1e-6)


def test_others_mode_with_two_classes_and_with_one():
    """'others' (the official ResNet LabelSmoothing): eps over the C - 1 other classes, all of
    it on the one other class of two; a single class has none to spread to: 1 - eps."""
    np.testing.assert_allclose(smooth_one_hot(np.array([1, 0]), 2, 0.1, "others"),
                               [[0.1, 0.9], [0.9, 0.1]], rtol=1e-6)
    np.testing.assert_allclose(smooth_one_hot(np.array([0]), 1, 0.1, "others"), [[0.9]],
                               rtol=1e-6)


AUG = {"label_smoothing": 0.1, "smoothing_mode": "uniform", "mixup": 0.8, "cutmix": 1.0,
       "mixup_prob": 1.0, "switch_prob": 0.5}


def test_no_mixing_keeps_images():
    images = np.random.default_rng(0).standard_normal((4, 3, 8, 8)).astype(np.float32)
    out, targets = mix_batch(images, np.arange(4), 5, {**AUG, "mixup": 0.0, "cutmix": 0.0},
                             np.random.RandomState(0))
    assert out is images
    np.testing.assert_array_equal(targets.argmax(1), np.arange(4))


def test_mixup_mixes_images_and_targets_alike():
    rng_img = np.random.default_rng(1)
    images = rng_img.standard_normal((4, 3, 8, 8)).astype(np.float32)
    labels = np.array([0, 1, 2, 3])
    out, targets = mix_batch(images, labels, 4, {**AUG, "cutmix": 0.0, "label_smoothing": 0.0},
                             np.random.RandomState(2))
    lam = targets[0, 0]  # sample 0 mixed with sample 3 (the flipped batch)
    assert 0 < lam < 1 and targets[0, 3] == pytest.approx(1 - lam, abs=1e-6)
    np.testing.assert_allclose(out[0], lam * images[0] + (1 - lam) * images[3], atol=1e-5)
    np.testing.assert_allclose(targets.sum(1), 1.0, rtol=1e-6)


def test_cutmix_target_weight_is_the_pasted_area():
    images = np.zeros((2, 1, 16, 16), np.float32)
    images[1] = 1.0
    out, targets = mix_batch(images, np.array([0, 1]), 2,
                             {**AUG, "mixup": 0.0, "label_smoothing": 0.0},
                             np.random.RandomState(5))
    pasted = out[0].mean()  # sample 0 is zeros with a box of sample 1's ones
    assert targets[0, 1] == pytest.approx(pasted, abs=1e-6)
    assert targets[0, 0] == pytest.approx(1 - pasted, abs=1e-6)


def test_cutmix_box_inside_image():
    rng = np.random.RandomState(0)
    for lam in (0.0, 0.3, 0.99):
        y0, y1, x0, x1 = cutmix_box(10, 12, lam, rng)
        assert 0 <= y0 <= y1 <= 10 and 0 <= x0 <= x1 <= 12


def test_mixing_is_reproducible():
    images = np.random.default_rng(0).standard_normal((6, 3, 8, 8)).astype(np.float32)
    a = mix_batch(images, np.arange(6) % 3, 3, AUG, np.random.RandomState([1, 2, 3]))
    b = mix_batch(images, np.arange(6) % 3, 3, AUG, np.random.RandomState([1, 2, 3]))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("mixup, cutmix", [(0.8, 1.0), (0.8, 0.0), (0.0, 1.0)])
def test_odd_batch_with_mixing_is_an_error(mixup, cutmix):
    """timm's batch mode pairs sample i with B-1-i: any mixing needs an even batch."""
    images = np.zeros((3, 1, 4, 4), np.float32)
    with pytest.raises(ValueError, match="even batch.*got 3 images"):
        mix_batch(images, np.arange(3), 3, {**AUG, "mixup": mixup, "cutmix": cutmix},
                  np.random.RandomState(0))


def test_unknown_smoothing_mode_is_named():
    with pytest.raises(ValueError, match="aug.smoothing_mode='spread' must be 'uniform' or"):
        smooth_one_hot(np.array([0, 1]), 3, 0.1, "spread")


def test_cutmix_lambda_of_exactly_one_mixes_nothing_and_draws_no_box():
    """timm's Mixup: lam == 1 returns before rand_bbox. Beta(0.01, 0.01) (an accepted
    aug.cutmix) gives exactly 1.0 under this seed."""
    expected = np.random.RandomState(1)
    assert expected.rand() < 1.0 and expected.beta(0.01, 0.01) == 1.0  # the coin, lambda
    aug = {"mixup": 0.0, "cutmix": 0.01, "mixup_prob": 1.0, "switch_prob": 0.5}
    rng = np.random.RandomState(1)
    assert draw_mix(aug, 8, 8, rng) == MixParams()
    assert rng.randint(2 ** 31) == expected.randint(2 ** 31)  # no box was drawn

"""timm 0.3.2's Mixup in 'batch' mode with label smoothing, written from its documented semantics
on torch tensors; ``np_rng`` stands in for timm's ``np.random``."""
import numpy as np
import torch


def one_hot(x, num_classes, on_value=1.0, off_value=0.0):
    x = x.long().view(-1, 1)
    return torch.full((x.size()[0], num_classes), off_value).scatter_(1, x, on_value)


def mixup_target(target, num_classes, lam=1.0, smoothing=0.0):
    off_value = smoothing / num_classes
    on_value = 1.0 - smoothing + off_value
    y1 = one_hot(target, num_classes, on_value=on_value, off_value=off_value)
    y2 = one_hot(target.flip(0), num_classes, on_value=on_value, off_value=off_value)
    return y1 * lam + y2 * (1.0 - lam)


def rand_bbox(img_shape, lam, np_rng):
    ratio = np.sqrt(1 - lam)
    img_h, img_w = img_shape[-2:]
    cut_h, cut_w = int(img_h * ratio), int(img_w * ratio)
    cy = np_rng.randint(0, img_h)
    cx = np_rng.randint(0, img_w)
    yl = np.clip(cy - cut_h // 2, 0, img_h)
    yh = np.clip(cy + cut_h // 2, 0, img_h)
    xl = np.clip(cx - cut_w // 2, 0, img_w)
    xh = np.clip(cx + cut_w // 2, 0, img_w)
    return yl, yh, xl, xh


class Mixup:
    def __init__(self, mixup_alpha=1.0, cutmix_alpha=0.0, prob=1.0, switch_prob=0.5,
                 correct_lam=True, label_smoothing=0.1, num_classes=1000):
        self.mixup_alpha, self.cutmix_alpha = mixup_alpha, cutmix_alpha
        self.mix_prob, self.switch_prob = prob, switch_prob
        self.correct_lam = correct_lam
        self.label_smoothing, self.num_classes = label_smoothing, num_classes

    def _params_per_batch(self, np_rng):
        lam, use_cutmix = 1.0, False
        if np_rng.rand() < self.mix_prob:
            if self.mixup_alpha > 0.0 and self.cutmix_alpha > 0.0:
                use_cutmix = np_rng.rand() < self.switch_prob
                lam_mix = (np_rng.beta(self.cutmix_alpha, self.cutmix_alpha) if use_cutmix
                           else np_rng.beta(self.mixup_alpha, self.mixup_alpha))
            elif self.mixup_alpha > 0.0:
                lam_mix = np_rng.beta(self.mixup_alpha, self.mixup_alpha)
            else:
                use_cutmix = True
                lam_mix = np_rng.beta(self.cutmix_alpha, self.cutmix_alpha)
            lam = float(lam_mix)
        return lam, use_cutmix

    def _mix_batch(self, x, np_rng):
        lam, use_cutmix = self._params_per_batch(np_rng)
        if lam == 1.0:
            return 1.0
        if use_cutmix:
            yl, yh, xl, xh = rand_bbox(x.shape, lam, np_rng)
            if self.correct_lam:
                lam = 1.0 - (yh - yl) * (xh - xl) / float(x.shape[-2] * x.shape[-1])
            x[:, :, yl:yh, xl:xh] = x.flip(0)[:, :, yl:yh, xl:xh]
        else:
            x_flipped = x.flip(0).mul_(1.0 - lam)
            x.mul_(lam).add_(x_flipped)
        return lam

    def __call__(self, x, target, np_rng):
        assert len(x) % 2 == 0, "Batch size should be even when using this"
        lam = self._mix_batch(x, np_rng)
        return x, mixup_target(target, self.num_classes, lam, self.label_smoothing)

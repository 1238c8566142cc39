"""The loss and the compiled training step: gradient accumulation, all-reduce over ranks, loss
scaling with overflow skip, clipping of the total gradient norm."""
import mindspore as ms
from mindspore import Tensor, nn, ops
from mindspore import dtype as mstype
from mindspore.ops import composite as C

CLIP_EPS = 1e-6  # torch.nn.utils.clip_grad_norm_: max_norm / (total_norm + 1e-6)

_unscale = C.MultitypeFuncGraph("unscale")
_all_finite = C.MultitypeFuncGraph("all_finite")
_to_float32 = C.MultitypeFuncGraph("to_float32")
_square_sum = C.MultitypeFuncGraph("square_sum")
_scale = C.MultitypeFuncGraph("scale")
_zero = C.MultitypeFuncGraph("zero")
_hyper_map = C.HyperMap()


@_unscale.register("Tensor", "Tensor")
def _unscale_grad(inv_scale: Tensor, grad: Tensor) -> Tensor:
    return grad * ops.cast(inv_scale, ops.dtype(grad))


@_all_finite.register("Tensor")
def _grad_all_finite(grad: Tensor) -> Tensor:
    return ops.all(ops.isfinite(grad))


@_to_float32.register("Tensor")
def _grad_to_float32(grad: Tensor) -> Tensor:
    """Gradients reach the float32 master weights in float32 (under amp they may be float16)."""
    return ops.cast(grad, mstype.float32)


@_square_sum.register("Tensor")
def _grad_square_sum(grad: Tensor) -> Tensor:
    return ops.sum(ops.square(grad))


@_scale.register("Tensor", "Tensor")
def _scale_grad(coef: Tensor, grad: Tensor) -> Tensor:
    return grad * coef


@_zero.register("Tensor")
def _zero_buffer(buffer: Tensor) -> Tensor:
    return ops.assign(buffer, ops.zeros_like(buffer))


def clip_by_total_norm(grads, max_norm: float):
    """torch.nn.utils.clip_grad_norm_(parameters, max_norm) (norm_type 2): one 2-norm over all
    gradients together; every gradient times min(1, max_norm / (total_norm + 1e-6))."""
    total = ops.sqrt(ops.addn(_hyper_map(_square_sum, grads)))
    coef = ops.minimum(max_norm / (total + CLIP_EPS), 1.0)
    return _hyper_map(ops.partial(_scale, coef), grads)


class SoftTargetCrossEntropy(nn.Cell):
    """mean over the batch of -sum_c target_c * log_softmax(logits)_c, computed in float32."""

    def construct(self, logits: Tensor, targets: Tensor) -> Tensor:
        log_prob = ops.log_softmax(ops.cast(logits, mstype.float32), axis=-1)
        return ops.mean(ops.sum(-targets * log_prob, dim=-1))


class NetWithLoss(nn.Cell):
    def __init__(self, model: nn.Cell):
        super().__init__(auto_prefix=False)  # keep the model's own parameter names
        self.model = model
        self.loss = SoftTargetCrossEntropy()

    def construct(self, images: Tensor, targets: Tensor) -> Tensor:
        return self.loss(self.model(images), targets)


class TrainStep(nn.TrainOneStepWithLossScaleCell):
    """One micro-batch: loss, gradients of loss / accumulation_steps (times the loss scale),
    added to the accumulated gradients; with ``apply`` (a Python bool: one compiled graph each)
    also one optimiser step: mean over ranks, unscale, overflow check (the step is skipped on
    inf/nan and the dynamic scale lowered), clipping of the total norm, update, and the
    accumulated gradients reset.

    This is the official Swin ACCUMULATION_STEPS rule (loss / steps, step every steps-th
    micro-batch) with clipping on the accumulated gradient. ``scale_sense``: a Tensor (fixed
    scale; 1.0 means no loss scaling) or a ``nn.DynamicLossScaleUpdateCell``.
    Returns (micro-batch loss, overflow, scale).
    """

    def __init__(self, network: nn.Cell, optimizer: nn.Optimizer, scale_sense, clip_norm=None,
                 accumulation_steps: int = 1):
        super().__init__(network, optimizer, scale_sense)
        self.ascend = ms.get_context("device_target") == "Ascend"
        self.clip = clip_norm is not None
        self.clip_norm = float(clip_norm) if self.clip else 1.0
        self.accumulation = int(accumulation_steps)
        if self.accumulation < 1:
            raise ValueError(f"train.accumulation_steps={accumulation_steps} must be >= 1")
        if self.accumulation > 1:
            self.accum_grads = self.weights.clone(prefix="accum_grad", init="zeros")

    def construct(self, images: Tensor, targets: Tensor, apply: bool = True):
        weights = self.weights
        loss = self.network(images, targets)
        scale = self.scale_sense
        sens = ops.ones_like(loss) * ops.cast(scale, ops.dtype(loss))
        if self.accumulation > 1:
            sens = sens / self.accumulation
        grads = self.grad(self.network, weights)(images, targets, sens)
        grads = self.hyper_map(_to_float32, grads)
        if self.accumulation > 1:
            grads = self.hyper_map(ops.add, self.accum_grads, grads)
            if not apply:
                loss = ops.depend(loss, self.hyper_map(ops.assign, self.accum_grads, grads))
                return loss, ops.zeros((), mstype.bool_), scale
            loss = ops.depend(loss, self.hyper_map(_zero, self.accum_grads))
        inv_scale = ops.reciprocal(ops.cast(scale, mstype.float32))
        grads = self.hyper_map(ops.partial(_unscale, inv_scale), grads)
        grads = self.grad_reducer(grads)
        if self.ascend and self.accumulation == 1:  # the NPU float-status registers
            cond = self.get_overflow_status(Tensor([0] * 8, mstype.int32), grads)
        else:  # the gradients are identical on every rank after the reduce: no all-reduce
            cond = ops.logical_not(ops.stack(self.hyper_map(_all_finite, grads)).all())
        overflow = self.process_loss_scale(cond)
        if self.clip:
            grads = clip_by_total_norm(grads, self.clip_norm)
        if not overflow:
            loss = ops.depend(loss, self.optimizer(grads))
        return loss, cond, scale

"""The loss and the compiled training step (gradient all-reduce, loss scaling, clipping)."""
import mindspore as ms
from mindspore import Tensor, nn, ops
from mindspore import dtype as mstype
from mindspore.ops import composite as C

_unscale = C.MultitypeFuncGraph("unscale")


_all_finite = C.MultitypeFuncGraph("all_finite")


@_unscale.register("Tensor", "Tensor")
def _unscale_grad(inv_scale: Tensor, grad: Tensor) -> Tensor:
    return grad * ops.cast(inv_scale, ops.dtype(grad))


@_all_finite.register("Tensor")
def _grad_all_finite(grad: Tensor) -> Tensor:
    return ops.all(ops.isfinite(grad))


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
    """One optimiser step: loss, gradients (scaled by ``scale_sense``), mean over ranks, unscale,
    overflow check (the step is skipped on inf/nan), optional global-norm clipping, update.

    ``scale_sense``: a Tensor (fixed scale; 1.0 means no loss scaling) or a
    ``nn.DynamicLossScaleUpdateCell``. Returns (loss, overflow, scale).
    """

    def __init__(self, network: nn.Cell, optimizer: nn.Optimizer, scale_sense, clip_norm=None):
        super().__init__(network, optimizer, scale_sense)
        self.ascend = ms.get_context("device_target") == "Ascend"
        self.clip = clip_norm is not None
        self.clip_norm = float(clip_norm) if self.clip else 1.0

    def construct(self, images: Tensor, targets: Tensor):
        weights = self.weights
        loss = self.network(images, targets)
        scale = self.scale_sense
        status = Tensor([0] * 8, mstype.int32)
        sens = ops.ones_like(loss) * ops.cast(scale, ops.dtype(loss))
        grads = self.grad(self.network, weights)(images, targets, sens)
        inv_scale = ops.reciprocal(ops.cast(scale, mstype.float32))
        grads = self.hyper_map(ops.partial(_unscale, inv_scale), grads)
        grads = self.grad_reducer(grads)
        if self.ascend:  # the NPU float-status registers
            cond = self.get_overflow_status(status, grads)
        else:  # the gradients are already identical on every rank: no all-reduce needed
            cond = ops.logical_not(ops.stack(self.hyper_map(_all_finite, grads)).all())
        overflow = self.process_loss_scale(cond)
        if self.clip:
            grads = ops.clip_by_global_norm(grads, self.clip_norm)
        if not overflow:
            loss = ops.depend(loss, self.optimizer(grads))
        return loss, cond, scale

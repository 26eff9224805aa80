"""GradientNormHook / global_grad_norm: the global L2 norm of the gradients, by hand, and its
record in the event storage of a training loop."""
import math

import pytest
import torch
from torch import nn

from facelib.engine.grad_norm import GradientNormHook, global_grad_norm


def test_global_grad_norm_by_hand():
    a, b, c = nn.Parameter(torch.zeros(2)), nn.Parameter(torch.zeros(1, 1)), nn.Parameter(torch.zeros(3))
    a.grad = torch.tensor([3.0, 4.0])
    b.grad = torch.tensor([[12.0]])
    # c has no gradient (e.g. a frozen or unused parameter): skipped
    assert global_grad_norm([a, b, c]) == pytest.approx(13.0)  # sqrt(9 + 16 + 144)
    assert global_grad_norm([a, b], norm_type=1.0) == pytest.approx(19.0)
    assert global_grad_norm([c]) == 0.0
    # the norm that clip_grad_norm_ compares with its max_norm
    assert torch.nn.utils.clip_grad_norm_([a, b], max_norm=1e9).item() == pytest.approx(13.0)


def test_hook_records_grad_norm_every_iteration():
    from detectron2.engine import SimpleTrainer

    torch.manual_seed(0)
    model = nn.Linear(3, 1)

    class Loss(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = model

        def forward(self, batch):
            x, y = batch
            return {"loss": ((self.lin(x) - y) ** 2).mean()}

    data = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(3)]
    loop = Loss()
    expected = []

    class Recorder(GradientNormHook):
        def after_backward(self):
            expected.append(math.sqrt(sum(float((p.grad ** 2).sum()) for p in loop.parameters())))
            super().after_backward()

    trainer = SimpleTrainer(loop, iter(data * 2), torch.optim.SGD(loop.parameters(), lr=0.1))
    trainer.register_hooks([Recorder()])
    trainer.train(0, 3)
    got = [v for v, _ in trainer.storage.history("grad_norm").values()]
    assert got == pytest.approx(expected) and len(got) == 3 and all(v > 0 for v in got)

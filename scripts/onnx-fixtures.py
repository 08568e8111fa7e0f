"""Builds the small ONNX test models in test/fixtures/onnx/ with PyTorch (no training: seeded weights).

Run with Debian's PyTorch 1.13 (`apt-get install -y python3-torch`, then `/usr/bin/python3
scripts/onnx-fixtures.py`); then `node scripts/onnx-reference.mjs` writes each model's input batch
and onnxruntime's logits next to it, so the tests need neither PyTorch nor a recompute.

  cnn.onnx     opset 13  1x28x28: Conv, Relu, MaxPool, x.view(x.size(0), -1) (Shape/Gather/Unsqueeze/
                         Concat/Reshape), Gemm
  resnet.onnx  opset 11  3x16x16: normalisation inside the model ((x - mean) / std per channel, as Sub
                         and Div of constants), Conv + BatchNorm + Relu (the exporter folds each BatchNorm into its
                         Conv's weights in eval mode), a residual block with Add, a depthwise (groups)
                         Conv, Pad + AveragePool, GlobalAveragePool, Flatten, Gemm
  mlp.onnx     opset 13  1x28x28: Flatten, Gemm, LayerNorm (decomposed: ReduceMean/Sub/Pow/Sqrt/Div),
                         GELU (Erf), Gemm
  branches.onnx opset 17 3x12x12: Conv, Relu, MaxPool and AveragePool branches joined by Concat,
                         BatchNormalization (after the Concat, so not folded into a Conv), Sigmoid,
                         Tanh, Mul, Add, Flatten, MatMul, LayerNormalization, Reshape, Transpose, Gemm
  linear2.onnx  opset 13  1x4x4: Flatten, Gemm to 2 classes whose logit difference (w0 − w1)·x + b0 − b1
  linear4.onnx  opset 13  1x4x4: Flatten, Gemm to 4 classes; test/unit/onnx-closed-form.test.ts reads
                         their weights back and checks attacks against the closed-form minimal budgets
Every model has a dynamic batch dimension named "batch".
"""
import os

import torch
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'onnx')


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3)
        self.conv2 = nn.Conv2d(4, 8, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 6 * 6, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        return self.fc(x.view(x.size(0), -1))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.a = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.b = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8))
        self.depthwise = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.pointwise = nn.Conv2d(8, 12, 1)
        self.avg = nn.AvgPool2d(2)
        self.fc = nn.Linear(12, 10)
        # CIFAR-10's channel statistics: the export starts with Sub and Div of these constants.
        self.register_buffer('mean', torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1))
        self.register_buffer('std', torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1))

    def forward(self, x):
        x = (x - self.mean) / self.std
        x = self.stem(x)
        x = torch.relu(x + self.b(self.a(x)))
        x = torch.relu(self.pointwise(self.depthwise(x)))
        x = self.avg(x)
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, 24)
        self.norm = nn.LayerNorm(24)
        self.fc2 = nn.Linear(24, 10)

    def forward(self, x):
        return self.fc2(nn.functional.gelu(self.norm(self.fc1(torch.flatten(x, 1)))))


class Branches(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.norm = nn.BatchNorm2d(12)
        self.drop = nn.Dropout(0.5)
        self.w = nn.Parameter(torch.randn(12 * 6 * 6, 16) * 0.05)
        self.ln = nn.LayerNorm(16)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        y = self.norm(torch.cat([nn.functional.max_pool2d(x, 2), nn.functional.avg_pool2d(x, 2)], 1))
        y = self.drop(y * torch.sigmoid(y) + torch.tanh(y))
        z = self.ln(torch.flatten(y, 1) @ self.w)
        z = z.view(z.size(0), 4, 4).transpose(1, 2).reshape(z.size(0), 16)
        return self.fc(z)


class Linear(nn.Module):
    """A linear classifier on 1x4x4 inputs whose decision boundaries pass near the centre of [0, 1]^16."""

    def __init__(self, classes):
        super().__init__()
        self.fc = nn.Linear(16, classes)
        with torch.no_grad():
            self.fc.weight.uniform_(-1, 1)
            if classes == 2:
                diff = self.fc.weight[0] - self.fc.weight[1]
                self.fc.bias.copy_(torch.tensor([-0.5 * diff.sum().item() + 0.3, 0.0]))
            else:
                self.fc.bias.uniform_(-0.2, 0.2)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))


def randomize_batchnorm(model):
    """Non-trivial inference statistics, so the test sees BatchNorm's arithmetic."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.3, 0.3)


def export(model, name, shape, opset):
    model.eval()
    path = os.path.join(OUT, name + '.onnx')
    torch.onnx.export(
        model,
        torch.zeros(2, *shape),
        path,
        opset_version=opset,
        input_names=['input'],
        output_names=['logits'],
        dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}},
        do_constant_folding=True,
    )
    print(path, os.path.getsize(path), 'bytes')


if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(12)
    export(Cnn(), 'cnn', (1, 28, 28), 13)
    resnet = ResNet()
    randomize_batchnorm(resnet)
    export(resnet, 'resnet', (3, 16, 16), 11)
    export(Mlp(), 'mlp', (1, 28, 28), 13)
    branches = Branches()
    randomize_batchnorm(branches)
    export(branches, 'branches', (3, 12, 12), 17)
    export(Linear(2), 'linear2', (1, 4, 4), 13)
    export(Linear(4), 'linear4', (1, 4, 4), 13)

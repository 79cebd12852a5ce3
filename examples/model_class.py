"""A small model written as a class, its parameters in a dataclass.

    python examples/model_class.py

`Classifier.loss` is an ordinary method: it reads the training data from
`self` and calls `self.predict`. `srcad.value_and_grad(model.loss)`
differentiates the bound method with respect to its first argument, the
`Params` dataclass, so the gradient is a `Params` too, and each training step
builds the next `Params` from it field by field. The script checks the gradient
against central finite differences, prints the start of the generated code,
and trains for a few hundred steps.
"""
import dataclasses

import numpy as np

import srcad


@dataclasses.dataclass
class Params:
    W: np.ndarray       # hidden x features
    b: np.ndarray       # hidden
    v: np.ndarray       # hidden


class Classifier:
    def __init__(self, inputs, labels, decay=1e-3):
        self.inputs, self.labels, self.decay = inputs, labels, decay

    def predict(self, p, inputs):
        hidden = np.tanh(inputs @ p.W.T + p.b)
        return 1.0 / (1.0 + np.exp(-(hidden @ p.v)))

    def loss(self, p):
        q = self.predict(p, self.inputs)
        y = self.labels
        data = -np.mean(y * np.log(q) + (1.0 - y) * np.log(1.0 - q))
        return data + self.decay * (np.sum(p.W ** 2) + np.sum(p.v ** 2))


def finite_differences(f, p, step=1e-6):
    """The gradient of f at p, field by field, by central differences."""
    grads = {}
    for field in dataclasses.fields(p):
        value = getattr(p, field.name)
        g = np.zeros_like(value)
        for i in range(value.size):
            e = np.zeros_like(value)
            e.flat[i] = step
            g.flat[i] = (f(dataclasses.replace(p, **{field.name: value + e}))
                         - f(dataclasses.replace(p, **{field.name: value - e}))) / (2 * step)
        grads[field.name] = g
    return Params(**grads)


def main():
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(200, 3))
    labels = (inputs[:, 0] * inputs[:, 1] + 0.5 * inputs[:, 2] > 0).astype(float)
    model = Classifier(inputs, labels)
    p = Params(W=0.5 * rng.normal(size=(8, 3)), b=np.zeros(8), v=0.5 * rng.normal(size=8))

    value_and_grad = srcad.value_and_grad(model.loss)
    value, grad = value_and_grad(p)
    expected = finite_differences(model.loss, p)
    error = max(float(np.max(np.abs(getattr(grad, f) - getattr(expected, f))))
                for f in ("W", "b", "v"))
    print(f"gradient is a {type(grad).__name__}; largest difference from finite "
          f"differences: {error:.1e}")
    if error > 1e-6:
        raise SystemExit("the gradient disagrees with finite differences")
    print("\n".join(value_and_grad.source.splitlines()[:12]) + "\n    ...\n")

    for step in range(301):
        value, grad = value_and_grad(p)
        if step % 100 == 0:
            print(f"step {step:3d}  loss {value:.4f}")
        p = Params(W=p.W - 0.5 * grad.W, b=p.b - 0.5 * grad.b, v=p.v - 0.5 * grad.v)


if __name__ == "__main__":
    main()

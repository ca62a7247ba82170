"""L-BFGS: the two-loop recursion against the dense BFGS inverse-Hessian it stands for, and
every step ending on an accepted iterate."""

from __future__ import annotations

import itertools

import pytest
import torch

from nst_engine.lbfgs import LBFGS


def test_direction_is_minus_the_bfgs_inverse_hessian_times_the_gradient():
    torch.manual_seed(0)
    n = 12
    m = torch.randn(n, n, dtype=torch.float64)
    a = (m @ m.t() + n * torch.eye(n, dtype=torch.float64)).float()

    def quad(x):
        return float(0.5 * x @ a @ x), a @ x

    opt = LBFGS(quad, torch.randn(n), history=4)
    for _ in range(6):  # more steps than history: the oldest pairs have been dropped
        assert opt.step()
    assert len(opt.s) == 4
    # H0 = γI with γ = sᵀy / yᵀy of the newest pair, then one BFGS update per stored pair.
    s_last, y_last = opt.s[-1].double(), opt.y[-1].double()
    h = torch.eye(n, dtype=torch.float64) * (s_last @ y_last / (y_last @ y_last))
    eye = torch.eye(n, dtype=torch.float64)
    for s, y in zip(opt.s, opt.y, strict=True):
        s, y = s.double(), y.double()
        rho = 1 / (y @ s)
        h = (eye - rho * torch.outer(s, y)) @ h @ (eye - rho * torch.outer(y, s))
        h = h + rho * torch.outer(s, s)
    expected = -(h @ opt.g.double())
    got = opt._direction().double()
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-6)


def test_lbfgs_returns_accepted_iterates():
    torch.manual_seed(0)
    a = torch.randn(30, 30)
    a = a @ a.t() + torch.eye(30)
    b = torch.randn(30)
    calls = 0

    def quad(x):
        nonlocal calls
        calls += 1
        x = x.detach().requires_grad_()
        f = 0.5 * x @ a @ x - b @ x
        f.backward()
        return f.item(), x.grad

    opt = LBFGS(quad, torch.zeros(30), first_step=0.1)
    values = [opt.f]
    for _ in range(60):
        if not opt.step():
            break
        values.append(opt.f)
        f_again, _ = quad(opt.x)  # the stored iterate really has the reported loss
        calls -= 1
        assert f_again == pytest.approx(opt.f, rel=1e-5, abs=1e-5)
    assert all(b <= a + 1e-6 for a, b in itertools.pairwise(values))
    assert opt.evals == calls
    solution = torch.linalg.solve(a, b)
    assert (opt.x - solution).abs().max() < 1e-2

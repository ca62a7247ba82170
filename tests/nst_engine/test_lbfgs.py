"""The L-BFGS two-loop recursion against the dense BFGS inverse-Hessian it stands for."""

from __future__ import annotations

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

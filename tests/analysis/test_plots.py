"""Each plot helper writes a PNG (skipped where matplotlib is not installed)."""

import numpy as np
import pytest

from convrnn_tf import analysis as A

pytest.importorskip("matplotlib")
from convrnn_tf.analysis import plots  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def _is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == PNG


def test_every_plot_writes_a_png(tmp_path):
    sim = A.simulate_population(n_classes=4, images_per_class=8, n_neurons=20,
                                time_bins=np.arange(60, 140, 10), onset=85, signal=3.0, seed=0)
    res = A.decode_over_time(sim.responses, sim.labels, sim.time_bins, n_splits=4)
    lat = A.decoding_latency(res, n_boot=20)
    t = res.times
    paths = [plots.plot_decoding_over_time({"IT": res, "model": (t, res.accuracy * 0.9, res.sem())},
                                           tmp_path / "acc.png", latencies={"IT": lat, "model": 95.0})]
    paths.append(plots.plot_decoding_over_time({"IT": res}, tmp_path / "dp.png", metric="dprime"))
    rng = np.random.default_rng(0)
    neural = 100 + 30 * sim.challenge + rng.normal(0, 5, 32)
    model = neural + rng.normal(0, 5, 32)
    model[0] = np.nan
    corr = A.ost_correlation(model, neural)
    paths.append(plots.plot_ost_scatter(model, neural, tmp_path / "scatter.png", flag=sim.challenge,
                                        rho=corr))
    groups = {k: A.compare_groups(v, sim.challenge, n_boot=50) for k, v in (("IT", neural), ("model", model))}
    paths.append(plots.plot_ost_groups(groups, tmp_path / "groups.png"))
    cons = {"model A": {"i1n": (0.6, 0.05), "i2n": (0.4, 0.04)}, "model B": {"i1n": (0.3, 0.05)}}
    paths.append(plots.plot_consistency_bars(cons, tmp_path / "cons.png", ceiling={"i2n": 0.479}))
    for p in paths:
        assert _is_png(p)

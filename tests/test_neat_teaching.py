"""Notebook 06's teaching layer: the exercise checks pass the reference and catch typical mistakes;
plots and widgets run headless on small precomputed records; the button's work runs on a tiny budget."""

import matplotlib.pyplot as plt
import pytest

from labkit import cache
from labkit.checks import ExerciseFailure
from labkit.checks import neat as checks
from labkit.nas.neat import NEAT, Genome, NEATConfig, align, crossover, distance, tasks
from labkit.widgets import neat as neatw


def test_distance_check_passes_the_reference_and_catches_a_forgotten_n(capsys):
    checks.check_distance(distance)
    assert "\u2714" in capsys.readouterr().out

    def no_normalisation(g1, g2, config):      # uses N = larger genome always
        matching, disjoint, excess = align(g1, g2)
        n = max(len(g1.connections), len(g2.connections))
        w = sum(abs(g1.connections[i].weight - g2.connections[i].weight) for i in matching) / len(matching)
        return (config.excess_coefficient * len(excess) + config.disjoint_coefficient * len(disjoint)) / n \
            + config.weight_coefficient * w
    with pytest.raises(ExerciseFailure, match="7.4"):
        checks.check_distance(no_normalisation)


def test_distance_check_reports_an_unfinished_exercise():
    def unfinished(g1, g2, config):
        raise NotImplementedError
    with pytest.raises(NotImplementedError, match="not written yet"):
        checks.check_distance(unfinished)


def test_crossover_check_passes_the_reference_and_catches_genes_from_the_wrong_parent(capsys):
    checks.check_crossover(crossover)
    assert "\u2714" in capsys.readouterr().out

    def union_of_genes(p1, p2, config, rng):    # takes disjoint and excess genes from both parents
        genes = {i: c.copy() for i, c in p2.connections.items()} | {i: c.copy() for i, c in p1.connections.items()}
        return Genome(dict(p1.nodes), genes)
    with pytest.raises(ExerciseFailure, match="innovation numbers"):
        checks.check_crossover(union_of_genes)

    def revives_split_links(p1, p2, config, rng):  # the 0.75 rule read as "else switch it on"
        if (p2.fitness, -len(p2.connections)) > (p1.fitness, -len(p1.connections)):
            p1, p2 = p2, p1
        child = {}
        for inn, gene in p1.connections.items():
            other = p2.connections.get(inn)
            chosen = (gene if other is None or rng.random() < 0.5 else other).copy()
            if not gene.enabled or (other is not None and not other.enabled):
                chosen.enabled = rng.random() >= config.disable_inherited_prob
            child[inn] = chosen
        return Genome(dict(p1.nodes), child)
    with pytest.raises(ExerciseFailure, match="stay off"):
        checks.check_crossover(revives_split_links)


@pytest.fixture(scope="module")
def small_records():
    """A tiny spirals run and a tiny ablation, shaped like the files of scripts/precompute_neat.py."""
    kwargs = {"n": 40, "seed": 0}
    neat = NEAT(NEATConfig(population_size=20, activation="tanh"), seed=0).run(
        tasks.spirals(**kwargs), max_generations=3, stop_when_solved=False)
    spirals = neatw.run_record(neat, "spirals", **kwargs)
    return spirals, {"max_generations": 5, "variants": {"A": [{"solved": True, "generations": 3},
                                                              {"solved": False, "generations": None}],
                                                        "B": [{"solved": True, "generations": 4}]}}


def test_plots_draw_labelled_axes(small_records):
    spirals, ablation = small_records
    record = {**spirals, "config": NEATConfig(**spirals["config"]),
              "champions": [Genome.from_dict(g) for g in spirals["champions"]]}
    task = tasks.spirals(**spirals["task"]["kwargs"])
    for ax in (neatw.plot_fitness(record["history"]), neatw.plot_species(record["history"]),
               neatw.plot_boundary(record["champions"][-1], record["config"], task),
               neatw.plot_ablation(ablation)):
        assert ax.get_xlabel() or ax.get_xticklabels()
        assert ax.get_ylabel()
    neatw.draw_genome(record["champions"][-1], record["config"])
    plt.close("all")


def test_scrubber_slider_redraws_and_dashboard_is_one_widget(small_records, tmp_path, monkeypatch):
    import ipywidgets as W
    spirals, ablation = small_records
    cache.save_json(tmp_path / "spirals.json", spirals)
    cache.save_json(tmp_path / "ablation.json", ablation)
    monkeypatch.setattr(neatw, "NEAT_DIR", tmp_path)
    record = neatw.load_run("spirals")
    box = neatw.boundary_scrubber(record)
    slider = box.children[0]
    assert box.result is record["champions"][-1]       # opens at the last generation
    slider.value = 1                                   # runs the callback; an exception would surface here
    assert slider.max == 3 and box.result is record["champions"][0]
    monkeypatch.setattr(neatw, "evolve", lambda *a, **k: NEAT(NEATConfig(population_size=10)).run(
        tasks.xor(), max_generations=2))
    tab = neatw.dashboard(generations=2)
    assert isinstance(tab, W.Tab) and len(tab.children) == 3
    button = tab.children[0].children[0].children[1]
    button.click()                                     # the live run, on a tiny budget
    plt.close("all")


def test_evolve_is_the_buttons_work_as_a_plain_function():
    neat = neatw.evolve("xor", generations=2, seed=0, population_size=20, progress=False)
    assert len(neat.history_) == 2


def test_run_record_round_trips_through_load_run(tmp_path, monkeypatch):
    neat = NEAT(NEATConfig(population_size=10), seed=0).run(tasks.xor(), max_generations=2)
    cache.save_json(tmp_path / "xor.json", neatw.run_record(neat, "xor"))
    monkeypatch.setattr(neatw, "NEAT_DIR", tmp_path)
    back = neatw.load_run("xor")
    assert back["champions"] == neat.champions_ and back["config"] == neat.config_

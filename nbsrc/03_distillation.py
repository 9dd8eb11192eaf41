# %% [markdown]
# # 03 · Distillation: a small student learns from a large teacher
#
# **Lecture 6, slides "Дистилляция НС. Основная идея" and "Дистилляция НС. Функция потерь".**
#
# After this notebook you will be able to
# * turn a teacher's logits into **soft targets** with a temperature $T$ and say what $T$ does to them;
# * write the lecture's loss $L = \lambda_1\,\mathrm{CE}(Y, Y^{(s)}) + \lambda_2\,T^2\,\mathrm{CE}(Y^{(t)}, Y^{(s)})$,
#   explain the $T^2$ factor (Hinton et al. 2015) and why a KL form gives the same gradients;
# * set up distillation so that it **really helps** a small student on MNIST-1D, and recognise the two
#   cases where it does not: the naive set-up, and a student too small for the task.
#
# The teacher is an **ensemble of three 1-D CNNs**, trained by `scripts/precompute_distill.py` and loaded
# from `data/distill/`; the heavy sweeps are read from the same folder. Tuning uses the validation split;
# the test split is left to `benchmarks/distill.py`.

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from labkit import data, distill, train
from labkit.checks import distill as checks
from labkit.widgets import distill as viz

train.set_threads(1)
ds = data.load("mnist1d", seed=0)
teacher = viz.load_teacher(ds)
results = viz.load_results()
print(f"teacher: ensemble of {len(teacher.members)} x {results['setup']['teacher']}, validation accuracy "
      f"{teacher.accuracy(ds.val):.3f} (members {', '.join(f'{a:.3f}' for a in results['teacher']['members_val'])})")

# %% [markdown]
# ## 1 · Soft targets: softmax with temperature
#
# $$Y^{(t)}_i = \frac{\exp(Z^{(t)}_i / T)}{\sum_j \exp(Z^{(t)}_j / T)}$$
#
# $T = 1$ is the ordinary softmax. A larger $T$ flattens the distribution: the small probabilities of
# the wrong classes grow, and with them the information about which classes the teacher finds alike.
#
# *Exercise 1.* Write the softmax with temperature over the last dimension.

# %% exercise="softmax_t"
def softmax_with_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """softmax(logits / T) over the classes (last dimension)."""
    ### BEGIN SOLUTION
    return F.softmax(logits / temperature, dim=-1)
    ### END SOLUTION


# %% check="softmax_t"
checks.check_softmax_with_temperature(softmax_with_temperature)

# %% [markdown]
# Move $T$ and pick a validation sample: the bars are the teacher's soft targets, the title gives their
# entropy (0 for a one-hot vector, $\ln 10 \approx 2.30$ nats for uniform).

# %%
val_logits = teacher.member_logits(ds.val.X[:50]).mean(0)  # (50, 10), mean logits of the members, for display
viz.temperature_widget(val_logits, ds.val.y[:50])

# %% [markdown]
# The same effect over the whole validation split: the mean entropy of the (averaged) soft targets rises
# from almost 0 at $T = 1$ towards $\ln 10$.

# %%
temps = [0.5, 1, 2, 4, 8, 16, 32, 64]
member_logits = teacher.member_logits(ds.val.X)  # (members, n, classes), computed once
entropies = [distill.entropy(distill.ensemble_soft_targets(member_logits, T)).mean().item() for T in temps]
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(temps, entropies, "o-")
ax.axhline(torch.log(torch.tensor(10.0)).item(), color="k", ls=":", label="uniform (ln 10)")
ax.set_xscale("log", base=2)
ax.set_xlabel("temperature T")
ax.set_ylabel("mean entropy of soft targets (nats)")
ax.legend()
plt.show()
assert all(a < b for a, b in zip(entropies, entropies[1:]))

# %% [markdown]
# ## 2 · Dark knowledge
#
# For every true class (row), the teacher's mean soft target for each *other* class (column), at $T = 4$.
# The diagonal is hidden. The bright cells are the teacher's knowledge of which digits look alike, and
# they are exactly what one-hot labels cannot tell a student.

# %%
dk = viz.dark_knowledge(teacher, ds.val, temperature=4.0)
viz.plot_dark_knowledge(dk, 4.0)
plt.show()
off = dk.copy()
off[range(10), range(10)] = 0
pairs = sorted(((off[i, j], i, j) for i in range(10) for j in range(10)), reverse=True)[:3]
print("most confused (true -> also likely):", ", ".join(f"{i}->{j} ({p:.2f})" for p, i, j in pairs))

# %% [markdown]
# ## 3 · The loss
#
# $$L = \lambda_1\,\mathrm{CE}(Y, Y^{(s)}) + \lambda_2\,T^2\,\mathrm{KL}\big(Y^{(t)} \,\|\, Y^{(s)}_T\big),
# \qquad Y^{(s)}_T = \mathrm{softmax}(Z^{(s)}/T)$$
#
# * The lecture writes $\mathrm{CE}(Y^{(t)}, Y^{(s)})$. Since $\mathrm{CE}(p, q) = \mathrm{KL}(p\|q) + H(p)$
#   and the teacher's entropy $H(Y^{(t)})$ does not depend on the student, both give **the same
#   gradients**; the KL form is 0 when the student copies the teacher, which makes it easy to check.
# * The gradient of the soft term with respect to the student's logits is $(Y^{(s)}_T - Y^{(t)})/T$, and the
#   probabilities themselves differ by about $1/T$: the term shrinks as $1/T^2$. Hinton et al. multiply it by
#   $T^2$ so that changing $T$ does not silently change its weight.
# * The direction matters: the teacher's distribution is the target (first argument of KL);
#   `F.kl_div(log_softmax(s/T), softmax(t/T), reduction="batchmean")` computes exactly that.
# * The teacher is fixed: its logits must be **detached**, or the student's loss would train the teacher.
#
# *Exercise 2.* Write the loss for one batch with labels `labels`, temperature `T` and weights `l1`, `l2`.
# The check compares it with torch's KL, and tests the $T^2$ scale, a zero soft term when student equals
# teacher, and that no gradient reaches the teacher.

# %% exercise="loss"
def distillation_loss(student_logits, teacher_logits, labels, T, l1, l2):
    """l1 * CE(labels, student) + l2 * T^2 * KL(softmax(teacher/T) || softmax(student/T)), batch mean."""
    ### BEGIN SOLUTION
    hard = F.cross_entropy(student_logits, labels)
    soft = F.kl_div(F.log_softmax(student_logits / T, dim=-1), F.softmax(teacher_logits.detach() / T, dim=-1),
                    reduction="batchmean")
    return l1 * hard + l2 * T ** 2 * soft
    ### END SOLUTION


# %% check="loss"
checks.check_distillation_loss(distillation_loss)

# %% [markdown]
# `labkit.distill.distillation_loss` is the same function with a config (`DistillConfig`: `temperature`,
# `hard_weight`, `soft_weight`, `scale_by_t2`, `soft_form="kl"` or the lecture's `"ce"`), and
# `labkit.distill.distill` trains a student with it: the teacher labels the inputs once, under
# `torch.no_grad`, and its parameters never reach the optimizer.

# %%
s, t, y = torch.randn(4, 10), torch.randn(4, 10), torch.randint(0, 10, (4,))
ours = distill.distillation_loss(s, t, y, temperature=4.0, hard_weight=0.1, soft_weight=0.9)
assert torch.allclose(ours, distillation_loss(s, t, y, 4.0, 0.1, 0.9), atol=1e-6)
print(f"labkit: {ours.item():.4f}, yours: {distillation_loss(s, t, y, 4.0, 0.1, 0.9).item():.4f}")

# %% [markdown]
# ## 4 · The naive set-up fails
#
# The obvious experiment: train the student on the 3,200 labelled samples with the distillation loss
# ($T = 4$, $\lambda_2 = 0.9$) and compare with the same student trained alone, **from the same initial
# weights**. The "naive KD" curve below is that experiment (60 epochs, as in the issue that set up this
# lab): it gains a few points for the larger students, a fifth of the gap at best, and it *loses* for the
# tiny ones. Why: on its own training samples the teacher is almost always right and confident,
# so its soft targets say little that the labels did not; the MLP student's problem is not the labels but
# that it **generalises badly from 3,200 samples**. The teacher knows how to label *other* inputs, and
# the student learns that only if it sees them.
#
# ## 5 · What works: labels from the teacher on extra inputs
#
# The lecture's "labels from the teacher": MNIST-1D can generate any number of new inputs
# (`data.mnist1d_unlabelled`). The teacher labels 50,000 of them (soft targets only, no true labels), and
# the student learns from the 3,200 labelled samples plus these. "KD + transfer" below; validation
# accuracy, one seed (the benchmark has five).

# %%
rows = viz.size_table(results)
viz.plot_sizes(rows, results["teacher"]["ensemble_val"])
plt.show()
for r in rows:
    gap = results["teacher"]["ensemble_val"] - r["alone"]
    print(f"{r['student']:>12} ({r['params']:>6} params): alone {r['alone']:.3f}, naive KD {r['naive KD']:.3f}, "
          f"KD + transfer {r['KD + transfer']:.3f}, gap closed {(r['KD + transfer'] - r['alone']) / gap:5.1%}")

# %% [markdown]
# Two things to read off the curves:
#
# * **Too small to be helped.** The linear student (`mlp:`, no hidden layer) cannot represent the
#   teacher's function: MNIST-1D digits are shifted templates, and a linear map of 40 values has no way to
#   be shift-tolerant. Whatever targets it gets, it stays near its own ceiling, so distillation closes
#   little of its gap. Distillation transfers *knowledge*, not *capacity*.
# * **Big enough students** learn far more from the teacher-labelled inputs than from the labelled set
#   alone, and the gap closed grows with the student's size.
#
# How many extra inputs are needed? The middle student against the size of the transfer set
# (0 = the labelled samples only, with the tuned $T$ and $\lambda_2$; every run gets the same number of
# optimizer steps, so the gain comes from the inputs, not from longer training):

# %%
viz.plot_transfer(results)
plt.show()

# %% [markdown]
# ## 6 · Tuning T and the weights, on validation data
#
# The grid below is the middle student distilled with the transfer set for each $T$ and $\lambda_2$
# ($\lambda_1 = 1 - \lambda_2$), scored on the **validation** split. The benchmark uses the best cell.

# %%
Ts, l2s, grid = viz.grid_table(results)
viz.plot_grid(Ts, l2s, grid)
plt.show()
print("tuned on validation:", results["tuned"])

# %% [markdown]
# What the grid says (one seed, so differences of a point or so are noise):
# * **$\lambda_2$ matters more than $T$.** With $\lambda_2 = 0.5$ the 3,200 hard labels pull as hard as the
#   teacher on 53,200 inputs, and the student loses several points: the labels are the part the teacher
#   already agrees with, the soft targets on new inputs are the part it could not learn alone.
# * **$T$ from 1 to 4 is about equally good, $T = 8$ is worse.** With tens of thousands of teacher-labelled
#   inputs the student sees the teacher's whole output distribution on many inputs, including the
#   ambiguous ones where the teacher itself spreads its probability, so it needs no extra softening;
#   a very high $T$ flattens away the difference between the right class and the rest. High $T$ matters
#   most when the transfer set is small and each sample's wrong-class probabilities must carry the
#   information (Hinton et al. used $T = 20$ on MNIST with no extra inputs).
#
# The button recomputes a small grid live (the call below it runs the same function with a tiny budget).

# %%
tiny = viz.grid_live(teacher, ds, "mlp:16", Ts=(1.0, 4.0), l2s=(0.9,), n_extra=500, epochs=1, progress=False)
print("tiny live grid, validation accuracy:", tiny.round(3).tolist())


# %%
from labkit.widgets import button


def live_grid():
    Ts_live, l2s_live = (1.0, 2.0, 4.0, 8.0), (0.5, 0.9)
    acc = viz.grid_live(teacher, ds, "mlp:64-64", Ts_live, l2s_live, n_extra=10_000, epochs=3)
    viz.plot_grid(Ts_live, l2s_live, acc, title="live grid (mlp:64-64, 10k extra, 3 epochs)")
    return acc


button("recompute a T x l2 grid", live_grid)

# %% [markdown]
# ## 7 · Alone vs distilled, from the same initial weights, live
#
# `viz.compare_live` builds one student, copies its weights into a second, trains the first alone and
# the second with the distillation loss, and reports both. Here with a tiny budget (one epoch: neither
# student has learned much yet, so the numbers say nothing about distillation); the button runs a real
# budget with a progress bar. Over five seeds on the test split, `benchmarks/distill.py` measured the
# distilled student ahead at every size and every seed.

# %%
res = viz.compare_live(teacher, ds, "mlp:32", n_extra=1000, epochs=1, progress=False)
print(f"validation accuracy after a tiny budget: alone {res['alone']:.3f}, distilled {res['distilled']:.3f}, "
      f"teacher {res['teacher']:.3f}")

# %%
def live_compare():
    r = viz.compare_live(teacher, ds, "mlp:64-64", n_extra=20_000, epochs=8)
    print(f"validation accuracy: alone {r['alone']:.3f}, distilled {r['distilled']:.3f}, teacher {r['teacher']:.3f}")
    return r


button("train alone vs distilled (mlp:64-64)", live_compare)

# %% [markdown]
# ## 8 · One teacher or an ensemble
#
# The lecture's teacher is "a large network or an ensemble". The ensemble averages its members' soft
# targets at $T$ (`distill.Teacher([net1, net2, net3])`); it is more accurate than each member. Is its
# student better too? Same student, same transfer set, same $T$ and $\lambda_2$, one member as teacher:

# %%
print(f"teacher members {', '.join(f'{a:.3f}' for a in results['teacher']['members_val'])}, "
      f"ensemble {results['teacher']['ensemble_val']:.3f} (validation)")
middle = results["setup"]["grid_student"]
print(f"{middle} distilled from one member: {results['single_teacher']['distilled']:.3f}, "
      f"from the ensemble: {results[f'size/{middle}/transfer']['distilled']:.3f}")

# %% [markdown]
# Here the answer is no: the student from one member is as good as the one from the ensemble, within
# the noise of one seed. The MLP student ends far below either teacher: it is limited by what it can
# represent and by the inputs it sees, not by the last two points of its teacher's accuracy. The
# ensemble costs three teachers' compute to label the transfer set; measure before paying for it.
#
# ## Question: what is the main idea of distillation?
#
# Train a small network (the student, which must fit the size and latency budget) **on the outputs of a
# large network or an ensemble** (the teacher) instead of, or besides, the true labels. The teacher's soft
# targets at temperature $T$ carry more than a label: how similar each input is to every class
# (section 2). And the teacher can label inputs nobody labelled (section 5): on MNIST-1D this is what
# turns a student that barely gains from distillation (naive set-up, section 4) into one that closes
# most of the gap to its teacher at a fraction of its compute. It cannot give a student capacity it
# does not have (the linear student).
#
# More questions:
# 1. Why does the soft term need the factor $T^2$, and what happens to the balance of the two terms
#    without it when you raise $T$ from 1 to 10?
# 2. Why would replacing the KL with the cross-entropy $\mathrm{CE}(Y^{(t)}, Y^{(s)})$ change the loss
#    value but not the trained student?
# 3. `viz.dashboard()` shows this notebook's widgets in one place: which setting would you change
#    first if a student gained nothing from distillation?

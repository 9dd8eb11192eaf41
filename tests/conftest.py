import matplotlib

matplotlib.use("Agg")  # unit tests draw nothing on screen (not set for notebook runs: it changes outputs)

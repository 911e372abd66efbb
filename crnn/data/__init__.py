"""Datasets: the synthetic generator, import of labelled images, the on-disk format and batches."""

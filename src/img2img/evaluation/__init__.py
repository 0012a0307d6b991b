"""Evaluation of a trained generator (plain PyTorch, no Kedro): scores on a held-out split with
baselines and a report (:mod:`.evaluate`, :mod:`.report`), and the candidate and the registry's
champion scored on the same images for the promotion gate (:mod:`.champion`)."""

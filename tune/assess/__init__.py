"""``crnn assess``: how many labels, and how much compute, break a CAPTCHA scheme. ``run`` plans and
runs the (attacker, size, repeat) trials on Ray Tune; ``attackers`` are the recipes; ``sizes`` the label
budgets; ``runs`` and ``files`` read what the trials left; ``report`` and ``plots`` write the verdict."""

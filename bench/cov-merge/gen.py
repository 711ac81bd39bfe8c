"""Write a large generated Python package and a driver that runs a shard of it.

python3 gen.py DIR MODULES FUNCTIONS
"""

import os
import sys

FUNCTION = '''
def f{i}(x, y):
    """Branches enough for coverage to have something to merge."""
    total = 0
    if x > {a}:
        total += 1
    else:
        total -= 1
    for k in range(y):
        if k % {b} == 0:
            total += k
        elif k % 3 == 1:
            total -= 1
    while x > 0 and total < 100:
        x -= 7
        total += 2
    return total if total > 0 else -total
'''

DRIVER = '''
"""Run shard K of N: each shard calls its own share of the functions."""
import importlib
import sys

k, n, modules, functions = (int(a) for a in sys.argv[1:5])
for m in range(modules):
    module = importlib.import_module(f"big.m{m}")
    for i in range(functions):
        if (m * 31 + i * 7) % (n + 1) == k:
            getattr(module, f"f{i}")(k * 3 + i % 5, (m + i) % 6)
'''


def main():
    root, modules, functions = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    os.makedirs(os.path.join(root, "big"), exist_ok=True)
    with open(os.path.join(root, "big", "__init__.py"), "w") as f:
        f.write('"""A generated package."""\n')
    for m in range(modules):
        with open(os.path.join(root, "big", f"m{m}.py"), "w") as f:
            f.write(f'"""Generated module {m}."""\n')
            for i in range(functions):
                f.write(FUNCTION.format(i=i, a=(m + i) % 9, b=2 + (m * i) % 4))
    with open(os.path.join(root, "driver.py"), "w") as f:
        f.write(DRIVER)


main()

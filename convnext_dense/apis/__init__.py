"""Entry points behind tools/train.py and tools/test.py."""

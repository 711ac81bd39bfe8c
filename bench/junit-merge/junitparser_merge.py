#!/usr/bin/env python3
"""Merge JUnit files the way scripts built on junitparser do.

Usage: junitparser_merge.py OUTPUT FILE...
"""
import sys

from junitparser import JUnitXml


def main():
    merged = JUnitXml()
    for path in sys.argv[2:]:
        merged += JUnitXml.fromfile(path)
    merged.write(sys.argv[1])


if __name__ == "__main__":
    main()

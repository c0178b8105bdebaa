"""Benchmarks. Every module here with a `main()` is one part; `python -m bench` runs them all,
`python -m bench NAME...` the named ones. Figures are ratios against a baseline measured in
the same run, so they compare across machines."""

"""
Rows: the verified table-by-table copy from the source and the seed files (insert-missing by key).
"""

"""The parts of cmp's process Pool; cmp.pool is the facade (its docstring
says which part is where)."""

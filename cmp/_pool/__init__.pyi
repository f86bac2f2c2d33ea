# The parts of cmp's Pool (internal); cmp.pool is the facade.

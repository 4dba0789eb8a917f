"""Money: the credits ledger (accounts, grants, charges), budgets and their periods, the
reservations that hold a call's worst-case cost before it goes out, and the settlement that
charges its actual cost when it is metered — exactly once, whatever happens to the call."""

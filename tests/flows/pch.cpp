// Translation unit that builds the precompiled header shared by the flows tests.

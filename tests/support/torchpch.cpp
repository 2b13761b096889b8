// The translation unit that builds the Torch + Qt Test precompiled header the tensor tests reuse.

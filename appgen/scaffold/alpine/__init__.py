"""Alpine.js in a preview, read without running it.

An element with a readable `x-data` whose state-changing directives convert becomes a `"use client"`
React component next to the page (`island`: which elements and scopes it holds; `behaviour`: what each
directive becomes; `react_code`: its state, methods and hooks; `jsx`: its props and the shared hooks
file). The `x-data` objects are read by `scope`, the directives' values by `grammar`, the attribute
names by `directives`. Everything else keeps the state Alpine starts it in (`start_state`).
"""

"""Where bindings and timeline entries live (an adapter): implementations of the store ports in
`bot.usecases.ports`. SQLite is the embedded default; nothing outside this package knows which it is."""

"""Tables, the engine, migrations and the rules that guard each aggregate."""

pytest_plugins = ["fixtures.database"]

"""The DAG files the package ships: a package only so the import contracts can read them."""

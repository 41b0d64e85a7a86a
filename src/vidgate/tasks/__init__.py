"""Tasks: the status machine (pure) and the service that submits and reads them."""

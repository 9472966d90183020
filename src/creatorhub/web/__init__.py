"""Server-rendered pages: where people click rather than call the API."""

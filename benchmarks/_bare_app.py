"""The limit for HTTP benchmarks: a bare FastAPI endpoint returning a constant."""

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

app = FastAPI()


@app.get("/constant")
def constant() -> dict[str, bool]:
    """The same shape of answer as a decision, computed from nothing."""
    return {"allowed": True}


PAGE = ("<!DOCTYPE html>\n<html lang=\"nb\"><head><meta charset=\"utf-8\"><title>Side</title>"
        "</head><body><main><h1>Side</h1><p>En fast side, laget av ingenting.</p></main>"
        "</body></html>\n")


@app.get("/page", response_class=HTMLResponse)
def page() -> HTMLResponse:
    """A constant HTML page: the limit for the web benchmark's pages."""
    return HTMLResponse(PAGE)

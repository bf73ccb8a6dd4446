"""The limit for HTTP benchmarks: a bare FastAPI endpoint returning a constant."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/constant")
def constant() -> dict[str, bool]:
    """The same shape of answer as a decision, computed from nothing."""
    return {"allowed": True}

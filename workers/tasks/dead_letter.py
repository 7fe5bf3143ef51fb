"""The `dead_letter` queue's keeper: consumes each announced letter so that the queue, the failed task,
its arguments and error are visible in Flower; the durable copy is already in the database.
"""
from __future__ import annotations

from connector import dead_letters
from workers.app import app


@app.task(name="wooerp.dead_letter.keep", bind=True)
def keep(self, letter_id: int, task: str = "", error: str = "") -> dict:
    letter = dead_letters.get(self.services.db, int(letter_id))
    return {"letter_id": letter_id, "task": task, "error": error,
            "status": letter.status if letter else "missing", "open": dead_letters.count_open(self.services.db)}

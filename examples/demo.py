"""The pyai sessions demo: a conversation that outlives its process.

    python examples/demo.py write    # process 1: store a conversation with metadata
    python examples/demo.py read     # process 2: read it back
    python examples/demo.py export   # process 3: export it as a versioned document

It uses the embedded default: a SQLite file (``sessions.db`` in the current directory,
or ``$PYAI_DEMO_DB``), created and migrated on first use. No server, no network.
"""

from __future__ import annotations

import json
import os
import sys

from pyai.sessions import SQLiteSession

DB = os.environ.get("PYAI_DEMO_DB", "sessions.db")
SESSION_ID = "demo-user-123"


def write() -> None:
    with SQLiteSession(DB, SESSION_ID, user_id="alice") as session:
        session.delete()  # start the demo from a clean slate
        session.add_messages(
            [
                {"role": "system", "content": "You are a helpful travel assistant."},
                {"role": "user", "content": "My name is Alice and I'm planning a trip to Kyoto."},
                {"role": "assistant", "content": "Lovely! When are you going, Alice?"},
            ]
        )
        session.add_message(
            "user", "In April, for the cherry blossoms 🌸", metadata={"client": "web"}
        )
        session.set("title", "Kyoto trip")
        session.set("preferences", {"budget": "mid", "interests": ["temples", "food"]})
        print(f"[write pid={os.getpid()}] stored {session.count()} messages and 2 metadata keys")
        print(f"[write] in {os.path.abspath(DB)}, session {SESSION_ID!r}")


def read() -> None:
    with SQLiteSession(DB, SESSION_ID) as session:
        print(f"[read pid={os.getpid()}] a new process reads session {SESSION_ID!r}:")
        for message in session.get_messages():
            print(f"  #{message.seq} {message}")
        print(f"[read] metadata: {session.metadata()}")
        last = session.get_messages(limit=2)
        print(f"[read] the last 2 messages (one indexed query): {[m.seq for m in last]}")


def export() -> None:
    with SQLiteSession(DB, SESSION_ID) as session:
        document = session.export()
    path = "demo-export.json"
    with open(path, "w", encoding="utf-8") as f:
        json.dump(document, f, indent=2, ensure_ascii=False)
    print(
        f"[export pid={os.getpid()}] wrote {path}: format {document['format']} "
        f"v{document['version']}, {len(document['messages'])} messages, "
        f"metadata keys {sorted(document['metadata'])}"
    )


if __name__ == "__main__":
    steps = {"write": write, "read": read, "export": export}
    if len(sys.argv) != 2 or sys.argv[1] not in steps:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(steps)}}}")
    steps[sys.argv[1]]()

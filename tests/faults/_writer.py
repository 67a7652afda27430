"""A writer process for the SIGKILL tests: appends until it is killed.

Usage: ``python _writer.py URL SESSION_ID NAME ACK_FILE LIMIT``

Appends ``NAME:<n>`` (every fourth call a batch ``NAME:<n>:a`` + ``NAME:<n>:b``, the
second one carrying a few KB of metadata so a write spans several pages). After each
call returns, the positions it returned are appended to ACK_FILE as ``seq<TAB>content``
lines and fsynced: the file lists only writes the store acknowledged.
"""

from __future__ import annotations

import os
import sys

from pyai.sessions import open_session

PADDING = {"padding": "x" * 4000}


def main(url: str, session_id: str, name: str, ack_path: str, limit: int) -> None:
    session = open_session(url, session_id)
    with open(ack_path, "a", encoding="utf-8") as ack:
        print("ready", flush=True)
        for n in range(1, limit + 1):
            if n % 4 == 0:
                stored = session.add_messages(
                    [
                        {"role": "user", "content": f"{name}:{n}:a"},
                        {"role": "assistant", "content": f"{name}:{n}:b", "metadata": PADDING},
                    ]
                )
            else:
                stored = [session.add_message("user", f"{name}:{n}")]
            ack.write("".join(f"{m.seq}\t{m.content}\n" for m in stored))
            ack.flush()
            os.fsync(ack.fileno())
    session.close()


if __name__ == "__main__":
    url, session_id, name, ack_path, limit = sys.argv[1:]
    main(url, session_id, name, ack_path, int(limit))

from bench.peers.run import main

# Guarded: the concurrency check spawns processes, which import this module again.
if __name__ == "__main__":
    main()

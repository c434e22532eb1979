"""One retrain run now: ``python flows/retrain.py [--root .] [--demo]`` (biomoe.flows.retrain)."""

from biomoe.flows.retrain import main

if __name__ == "__main__":
    main()

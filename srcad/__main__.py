"""Command line: `python -m srcad demo`."""
import sys


def demo(argv):
    from .demo import main as run
    return run()


COMMANDS = {"demo": demo}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print("usage: python -m srcad {" + ",".join(COMMANDS) + "}")
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())

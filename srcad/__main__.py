"""Command line: `python -m srcad <command>` (installed as `srcad <command>` too).

Each command is a function taking the remaining arguments and returning an
exit status; COMMANDS maps its name to that function and a one-line help.
"""
import sys


def demo(argv):
    from .demo import main as run
    return run(argv)


def rules(argv):
    from .coverage import main as run
    return run(argv)


COMMANDS = {
    "demo": (demo, "differentiate a function with a loop and a branch, print the "
                   "generated source, check the gradient against finite differences"),
    "rules": (rules, "list every primitive with its reverse and forward rules and the test "
                     "that checks it (--markdown for docs/coverage.md)"),
}


def usage(file=sys.stdout):
    print("usage: python -m srcad <command>\n\ncommands:", file=file)
    width = max(len(name) for name in COMMANDS)
    for name, (_, text) in COMMANDS.items():
        print(f"  {name:<{width}}  {text}", file=file)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        usage()
        return 2
    if argv[0] in ("-h", "--help", "help"):
        usage()
        return 0
    if argv[0] not in COMMANDS:
        print(f"srcad: unknown command {argv[0]!r}\n", file=sys.stderr)
        usage(sys.stderr)
        return 2
    command, _ = COMMANDS[argv[0]]
    return command(argv[1:])


if __name__ == "__main__":
    sys.exit(main())

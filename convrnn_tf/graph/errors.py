"""The one exception type a malformed graph spec raises."""


class SpecError(ValueError):
    """A graph spec is malformed; the message names the node, key or file at fault."""

    def __init__(self, message: str, *, node: str | None = None, key: str | None = None):
        where = ""
        if node is not None:
            where = f"node {node!r}"
            if key is not None:
                where += f", {key}"
        elif key is not None:
            where = key
        super().__init__(f"{where}: {message}" if where else message)
        self.node = node
        self.key = key

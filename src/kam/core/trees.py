"""Walking up self-referencing hierarchies (head office ← branch, boss ← report)."""


def ancestors(node, parent_attr: str):
    """The node, its parent, its parent's parent…; stops at the top or at a loop."""
    seen = set()
    while node is not None and node.pk not in seen:
        yield node
        seen.add(node.pk)
        node = getattr(node, parent_attr)

"""Go's ``text/template/parse`` nodes, ported from Go 1.19 (the lexer is in :mod:`._lex`, the parser in
:mod:`._parser`)."""

from __future__ import annotations

from dockyard.compat.gostrconv import go_quote

# --- nodes -------------------------------------------------------------------------------------------------


class Node:
    __slots__ = ("pos",)

    def __init__(self, pos: int) -> None:
        self.pos = pos

    def __str__(self) -> str:
        raise NotImplementedError


class TextNode(Node):
    __slots__ = ("text",)

    def __init__(self, pos: int, text: str) -> None:
        self.pos = pos
        self.text = text

    def __str__(self) -> str:
        return self.text


class CommentNode(Node):
    __slots__ = ("text",)

    def __init__(self, pos: int, text: str) -> None:
        self.pos = pos
        self.text = text

    def __str__(self) -> str:
        return "{{" + self.text + "}}"


class ListNode(Node):
    __slots__ = ("nodes",)

    def __init__(self, pos: int, nodes: list[Node] | None = None) -> None:
        self.pos = pos
        self.nodes: list[Node] = [] if nodes is None else nodes

    def __str__(self) -> str:
        return "".join(str(n) for n in self.nodes)


class DotNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "."


class NilNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "nil"


class BoolNode(Node):
    __slots__ = ("value",)

    def __init__(self, pos: int, value: bool) -> None:
        self.pos = pos
        self.value = value

    def __str__(self) -> str:
        return "true" if self.value else "false"


class StringNode(Node):
    __slots__ = ("quoted", "text")

    def __init__(self, pos: int, quoted: str, text: str) -> None:
        self.pos = pos
        self.quoted = quoted
        self.text = text

    def __str__(self) -> str:
        return self.quoted


class NumberNode(Node):
    __slots__ = ("complex_value", "float_value", "int_value", "is_complex", "is_float", "is_int", "is_uint", "text")

    def __init__(
        self,
        pos: int,
        text: str,
        is_int: bool = False,
        is_uint: bool = False,
        is_float: bool = False,
        is_complex: bool = False,
        int_value: int = 0,
        float_value: float = 0.0,
        complex_value: complex = 0j,
    ) -> None:
        self.pos = pos
        self.text = text
        self.is_int = is_int
        self.is_uint = is_uint
        self.is_float = is_float
        self.is_complex = is_complex
        self.int_value = int_value
        self.float_value = float_value
        self.complex_value = complex_value

    def __str__(self) -> str:
        return self.text


class IdentifierNode(Node):
    __slots__ = ("ident",)

    def __init__(self, pos: int, ident: str) -> None:
        self.pos = pos
        self.ident = ident

    def __str__(self) -> str:
        return self.ident


class FieldNode(Node):
    __slots__ = ("ident",)

    def __init__(self, pos: int, ident: list[str]) -> None:
        self.pos = pos
        self.ident = ident

    def __str__(self) -> str:
        return "".join("." + i for i in self.ident)


class VariableNode(Node):
    __slots__ = ("ident",)

    def __init__(self, pos: int, ident: list[str]) -> None:
        self.pos = pos
        self.ident = ident

    def __str__(self) -> str:
        return ".".join(self.ident)


class ChainNode(Node):
    __slots__ = ("fields", "node")

    def __init__(self, pos: int, node: Node, fields: list[str] | None = None) -> None:
        self.pos = pos
        self.node = node
        self.fields: list[str] = [] if fields is None else fields

    def __str__(self) -> str:
        head = f"({self.node})" if isinstance(self.node, PipeNode) else str(self.node)
        return head + "".join("." + f for f in self.fields)


class CommandNode(Node):
    __slots__ = ("args",)

    def __init__(self, pos: int, args: list[Node] | None = None) -> None:
        self.pos = pos
        self.args: list[Node] = [] if args is None else args

    def __str__(self) -> str:
        return " ".join(f"({a})" if isinstance(a, PipeNode) else str(a) for a in self.args)


class PipeNode(Node):
    __slots__ = ("cmds", "decl", "is_assign")

    def __init__(
        self,
        pos: int,
        is_assign: bool = False,
        decl: list[VariableNode] | None = None,
        cmds: list[CommandNode] | None = None,
    ) -> None:
        self.pos = pos
        self.is_assign = is_assign
        self.decl: list[VariableNode] = [] if decl is None else decl
        self.cmds: list[CommandNode] = [] if cmds is None else cmds

    def __str__(self) -> str:
        head = ", ".join(str(v) for v in self.decl) + " := " if self.decl else ""
        return head + " | ".join(str(c) for c in self.cmds)


class ActionNode(Node):
    __slots__ = ("pipe",)

    def __init__(self, pos: int, pipe: PipeNode) -> None:
        self.pos = pos
        self.pipe = pipe

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


class BranchNode(Node):
    __slots__ = ("else_list", "kind", "list", "pipe")

    def __init__(self, pos: int, kind: str, pipe: PipeNode, list: ListNode, else_list: ListNode | None) -> None:
        self.pos = pos
        self.kind = kind
        self.pipe = pipe
        self.list = list
        self.else_list = else_list

    def __str__(self) -> str:
        tail = "{{else}}" + str(self.else_list) if self.else_list is not None else ""
        return "{{" + self.kind + " " + str(self.pipe) + "}}" + str(self.list) + tail + "{{end}}"


class TemplateNode(Node):
    __slots__ = ("name", "pipe")

    def __init__(self, pos: int, name: str, pipe: PipeNode | None) -> None:
        self.pos = pos
        self.name = name
        self.pipe = pipe

    def __str__(self) -> str:
        tail = " " + str(self.pipe) if self.pipe is not None else ""
        return "{{template " + go_quote(self.name) + tail + "}}"


class BreakNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "{{break}}"


class ContinueNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "{{continue}}"


class _End(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "{{end}}"


class _Else(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "{{else}}"

"""Go's ``text/template/parse`` parser (Go 1.19): a template text into trees, one per defined name."""

from __future__ import annotations

import math
import re
from collections.abc import Collection

from dockyard.compat.gostrconv import go_quote
from dockyard.compat.gotemplate import _lex as lx
from dockyard.compat.gotemplate import _parse as p
from dockyard.compat.gotemplate._errors import TemplateError

_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def unquote_char(s: str, quote: str) -> tuple[str, str]:
    """``strconv.UnquoteChar``: the first character of ``s`` (escapes decoded) and the rest."""
    if not s:
        raise ValueError
    ch = s[0]
    if ch == quote and quote in "'\"":
        raise ValueError
    if ch != "\\":
        return ch, s[1:]
    if len(s) < 2:
        raise ValueError
    c = s[1]
    rest = s[2:]
    if c in _ESCAPES:
        return _ESCAPES[c], rest
    if c in "xuU":
        n = {"x": 2, "u": 4, "U": 8}[c]
        digits = rest[:n]
        if len(digits) < n or not all(d in "0123456789abcdefABCDEF" for d in digits):
            raise ValueError
        value = int(digits, 16)
        if c == "x":
            return (chr(value) if value < 0x80 else chr(0xDC00 + value)), rest[n:]
        if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            raise ValueError
        return chr(value), rest[n:]
    if "0" <= c <= "7":
        digits = s[1:4]
        if len(digits) < 3 or not all("0" <= d <= "7" for d in digits):
            raise ValueError
        value = int(digits, 8)
        if value > 255:
            raise ValueError
        return (chr(value) if value < 0x80 else chr(0xDC00 + value)), s[4:]
    if c in "'\"":
        if c != quote:
            raise ValueError
        return c, rest
    raise ValueError


def unquote(text: str) -> str:
    """``strconv.Unquote`` of a ``"..."`` or raw string token."""
    if text.startswith("`"):
        return text[1:-1].replace("\r", "")
    body = text[1:-1]
    out = []
    while body:
        ch, body = unquote_char(body, '"')
        out.append(ch)
    return "".join(out)


_INT_RE = re.compile(r"[+-]?(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)")


def _underscore_ok(text: str) -> bool:
    """strconv's ``underscoreOK``: an underscore only between digits, or between a base prefix and a digit."""
    body = text[1:] if text[:1] in "+-" else text
    saw, i = "^", 0
    hexa = False
    if len(body) >= 2 and body[0] == "0" and body[1].lower() in "box":
        i, saw, hexa = 2, "0", body[1].lower() == "x"
    for ch in body[i:]:
        if ch.isdigit() or (hexa and ch.lower() in "abcdef"):
            saw = "0"
        elif ch == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
    return saw != "_"


def _parse_int(text: str) -> int | None:
    """``strconv.ParseInt(text, 0, 64)`` without the range check."""
    if not _INT_RE.fullmatch(text) or not _underscore_ok(text):
        return None
    sign = -1 if text[0] == "-" else 1
    body = text.lstrip("+-")
    if len(body) > 1 and body[0] == "0" and body[1] in "0123456789_":
        body = "0o" + body[1:]
    try:
        return sign * int(body, 0)
    except ValueError:
        return None


def _parse_float(text: str) -> float | None:
    if "_" in text and not _underscore_ok(text):
        return None
    body = text.replace("_", "")
    try:
        if re.fullmatch(r"[+-]?0[xX].*[pP].*", body):
            return float.fromhex(body)
        if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", body):
            return None
        value = float(body)
    except (ValueError, OverflowError):
        return None
    return value if not math.isinf(value) else None


def _simplify_complex(n: p.NumberNode, value: complex) -> p.NumberNode:
    n.is_complex, n.complex_value = True, value
    if value.imag == 0:
        n.is_float, n.float_value = True, value.real
        whole = value.real == int(value.real)
        n.is_int = whole and -(1 << 63) <= value.real < (1 << 63)
        n.is_uint = whole and 0 <= value.real < (1 << 64)
        n.int_value = int(value.real) if whole else 0
    return n


def new_number(pos: int, text: str, typ: int) -> p.NumberNode:
    n = p.NumberNode(pos, text)
    if typ == lx.CHARCONST:
        try:
            ch, tail = unquote_char(text[1:], text[0])
        except ValueError:
            raise ValueError("invalid syntax") from None
        if tail != "'":
            raise ValueError(f"malformed character constant: {text}")
        code = ord(ch) if not 0xDC80 <= ord(ch) <= 0xDCFF else ord(ch) - 0xDC00
        n.is_int = n.is_uint = n.is_float = True
        n.int_value, n.float_value = code, float(code)
        return n
    if typ == lx.COMPLEX:
        split = max(text.rfind("+"), text.rfind("-"))
        parts = [text[:split], text[split:-1]]
        values = [_parse_float(part) for part in parts]
        for part, value in zip(parts, values, strict=True):
            if value is None:  # fmt.Sscan's complex scanner reports strconv's error
                raise ValueError(f"strconv.ParseFloat: parsing {go_quote(part)}: invalid syntax")
        return _simplify_complex(n, complex(values[0] or 0.0, values[1] or 0.0))
    if text.endswith("i"):
        f = _parse_float(text[:-1])
        if f is not None:
            return _simplify_complex(n, complex(0, f))
    value = _parse_int(text)
    if value is not None:
        if -(1 << 63) <= value < (1 << 63):
            n.is_int = True
            n.int_value = value
        if 0 <= value < (1 << 64):
            n.is_uint = True
            n.int_value = value
    if n.is_int or n.is_uint:
        n.is_float = True
        n.float_value = float(n.int_value)
    else:
        f = _parse_float(text)
        if f is not None:
            if not any(c in text for c in ".eEpP"):
                raise ValueError(f"integer overflow: {go_quote(text)}")
            n.is_float = True
            n.float_value = f
            if f == int(f) and -(1 << 63) <= int(f) < (1 << 63):
                n.is_int = True
                n.int_value = int(f)
            if f == int(f) and 0 <= int(f) < (1 << 64):
                n.is_uint = True
                n.int_value = int(f)
    if not (n.is_int or n.is_uint or n.is_float):
        raise ValueError(f"illegal number syntax: {go_quote(text)}")
    return n


class Tree:
    """One parse tree (the template itself or a ``define``/``block``)."""

    def __init__(self, name: str, text: str, parse_name: str) -> None:
        self.name = name
        self.text = text
        self.parse_name = parse_name
        self.root = p.ListNode(0)

    # --- shared parse state lives in _State; Tree only carries the result ---


def is_empty_tree(n: p.Node | None) -> bool:
    if n is None or isinstance(n, p.CommentNode):
        return True
    if isinstance(n, p.ListNode):
        return all(is_empty_tree(x) for x in n.nodes)
    if isinstance(n, p.TextNode):
        return not n.text.strip(" \t\n\v\f\r\x85\xa0")
    return False


class _Parser:
    def __init__(self, name: str, text: str, funcs: Collection[str], tree_set: dict[str, Tree]) -> None:
        self.parse_name = name
        self.text = text
        self.items = lx.lex(text)
        self.index = 0
        self.funcs = funcs
        self.tree_set = tree_set
        self.token: list[lx.Item] = [lx.Item(lx.EOF, 0, "", 1)] * 3
        self.peek_count = 0
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.action_line = 0
        self.tree = Tree(name, text, name)

    # --- token stream ---
    def _lex_next(self) -> lx.Item:
        if self.index < len(self.items):
            item = self.items[self.index]
            self.index += 1
            return item
        return self.items[-1]

    def next(self) -> lx.Item:
        if self.peek_count > 0:
            self.peek_count -= 1
        else:
            self.token[0] = self._lex_next()
        return self.token[self.peek_count]

    def backup(self) -> None:
        self.peek_count += 1

    def backup2(self, t1: lx.Item) -> None:
        self.token[1] = t1
        self.peek_count = 2

    def backup3(self, t2: lx.Item, t1: lx.Item) -> None:
        self.token[1] = t1
        self.token[2] = t2
        self.peek_count = 3

    def peek(self) -> lx.Item:
        if self.peek_count > 0:
            return self.token[self.peek_count - 1]
        self.peek_count = 1
        self.token[0] = self._lex_next()
        return self.token[0]

    def next_non_space(self) -> lx.Item:
        while True:
            token = self.next()
            if token.typ != lx.SPACE:
                return token

    def peek_non_space(self) -> lx.Item:
        token = self.next_non_space()
        self.backup()
        return token

    # --- errors ---
    def errorf(self, msg: str) -> TemplateError:
        return TemplateError(f"template: {self.parse_name}:{self.token[0].line}: {msg}")

    def expect(self, typ: int, context: str) -> lx.Item:
        token = self.next_non_space()
        if token.typ != typ:
            raise self.unexpected(token, context)
        return token

    def unexpected(self, token: lx.Item, context: str) -> TemplateError:
        if token.typ == lx.ERROR:
            extra = ""
            if self.action_line != 0 and self.action_line != token.line:
                extra = f" in action started at {self.parse_name}:{self.action_line}"
                if token.val.endswith(" action"):
                    extra = extra[len(" in action") :]
            return self.errorf(f"{token}{extra}")
        return self.errorf(f"unexpected {token} in {context}")

    # --- grammar ---
    def parse(self) -> dict[str, Tree]:
        tree = self.tree
        tree.root = p.ListNode(self.peek().pos)
        while self.peek().typ != lx.EOF:
            if self.peek().typ == lx.LDELIM:
                delim = self.next()
                if self.next_non_space().typ == lx.DEFINE:
                    self.parse_definition()
                    continue
                self.backup2(delim)
            n = self.text_or_action()
            if isinstance(n, (p._End, p._Else)):
                raise self.errorf(f"unexpected {n}")
            tree.root.nodes.append(n)
        self.add(tree)
        return self.tree_set

    def add(self, tree: Tree) -> None:
        old = self.tree_set.get(tree.name)
        if old is None or is_empty_tree(old.root):
            self.tree_set[tree.name] = tree
            return
        if not is_empty_tree(tree.root):
            raise self.errorf(f"template: multiple definition of template {go_quote(tree.name)}")

    def _sub_tree(self) -> tuple[list[str], int, Tree]:
        saved = (self.vars, self.range_depth, self.tree)
        self.vars, self.range_depth = ["$"], 0
        return saved

    def parse_definition(self) -> None:
        context = "define clause"
        token = self.next_non_space()
        if token.typ not in (lx.STRING, lx.RAWSTRING):
            raise self.unexpected(token, context)
        try:
            name = unquote(token.val)
        except ValueError:
            raise self.errorf("invalid syntax") from None
        saved = self._sub_tree()
        self.tree = Tree(name, self.text, self.parse_name)
        self.expect(lx.RDELIM, context)
        self.tree.root, end = self.item_list()
        if not isinstance(end, p._End):
            raise self.errorf(f"unexpected {end} in {context}")
        self.add(self.tree)
        self.vars, self.range_depth, self.tree = saved

    def item_list(self) -> tuple[p.ListNode, p.Node]:
        lst = p.ListNode(self.peek_non_space().pos)
        while self.peek_non_space().typ != lx.EOF:
            n = self.text_or_action()
            if isinstance(n, (p._End, p._Else)):
                return lst, n
            lst.nodes.append(n)
        raise self.errorf("unexpected EOF")

    def text_or_action(self) -> p.Node:
        token = self.next_non_space()
        if token.typ == lx.TEXT:
            return p.TextNode(token.pos, token.val)
        if token.typ == lx.LDELIM:
            self.action_line = token.line
            try:
                return self.action()
            finally:
                self.action_line = 0
        if token.typ == lx.COMMENT:
            return p.CommentNode(token.pos, token.val)
        raise self.unexpected(token, "input")

    def action(self) -> p.Node:
        token = self.next_non_space()
        typ = token.typ
        if typ == lx.BLOCK:
            return self.block_control()
        if typ in (lx.BREAK, lx.CONTINUE):
            word = "break" if typ == lx.BREAK else "continue"
            after = self.next_non_space()
            if after.typ != lx.RDELIM:
                raise self.unexpected(after, "{{" + word + "}}")
            if self.range_depth == 0:
                raise self.errorf("{{" + word + "}} outside {{range}}")
            return p.BreakNode(token.pos) if typ == lx.BREAK else p.ContinueNode(token.pos)
        if typ == lx.ELSE:
            peek = self.peek_non_space()
            if peek.typ == lx.IF:
                return p._Else(peek.pos)
            return p._Else(self.expect(lx.RDELIM, "else").pos)
        if typ == lx.END:
            return p._End(self.expect(lx.RDELIM, "end").pos)
        if typ in (lx.IF, lx.RANGE, lx.WITH):
            return self.control({lx.IF: "if", lx.RANGE: "range", lx.WITH: "with"}[typ])
        if typ == lx.TEMPLATE:
            return self.template_control()
        self.backup()
        token = self.peek()
        return p.ActionNode(token.pos, self.pipeline("command", lx.RDELIM))

    def pipeline(self, context: str, end: int) -> p.PipeNode:
        token = self.peek_non_space()
        pipe = p.PipeNode(token.pos)
        while True:  # declarations
            v = self.peek_non_space()
            if v.typ != lx.VARIABLE:
                break
            self.next()
            after_variable = self.peek()
            nxt = self.peek_non_space()
            if nxt.typ in (lx.ASSIGN, lx.DECLARE):
                pipe.is_assign = nxt.typ == lx.ASSIGN
                self.next_non_space()
                pipe.decl.append(p.VariableNode(v.pos, v.val.split(".")))
                self.vars.append(v.val)
            elif nxt.typ == lx.CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(p.VariableNode(v.pos, v.val.split(".")))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in (lx.VARIABLE, lx.RDELIM, lx.RPAREN):
                        continue
                    raise self.errorf("range can only initialize variables")
                raise self.errorf(f"too many declarations in {context}")
            elif after_variable.typ == lx.SPACE:
                self.backup3(v, after_variable)
            else:
                self.backup2(v)
            break
        while True:
            token = self.next_non_space()
            if token.typ == end:
                self.check_pipeline(pipe, context)
                return pipe
            if token.typ in (lx.BOOL, lx.CHARCONST, lx.COMPLEX, lx.DOT, lx.FIELD, lx.IDENT, lx.NUMBER, lx.NIL,
                             lx.RAWSTRING, lx.STRING, lx.VARIABLE, lx.LPAREN):  # fmt: skip
                self.backup()
                pipe.cmds.append(self.command())
            else:
                raise self.unexpected(token, context)

    def check_pipeline(self, pipe: p.PipeNode, context: str) -> None:
        if not pipe.cmds:
            raise self.errorf(f"missing value for {context}")
        for i, c in enumerate(pipe.cmds[1:]):
            if isinstance(c.args[0], (p.BoolNode, p.DotNode, p.NilNode, p.NumberNode, p.StringNode)):
                raise self.errorf(f"non executable command in pipeline stage {i + 2}")

    def control(self, context: str) -> p.BranchNode:
        mark = len(self.vars)
        try:
            pipe = self.pipeline(context, lx.RDELIM)
            if context == "range":
                self.range_depth += 1
            lst, nxt = self.item_list()
            if context == "range":
                self.range_depth -= 1
            else_list: p.ListNode | None = None
            if isinstance(nxt, p._Else):
                if context == "if" and self.peek().typ == lx.IF:
                    self.next()
                    else_list = p.ListNode(nxt.pos)
                    else_list.nodes.append(self.control("if"))
                else:
                    else_list, nxt = self.item_list()
                    if not isinstance(nxt, p._End):
                        raise self.errorf(f"expected end; found {nxt}")
            return p.BranchNode(pipe.pos, context, pipe, lst, else_list)
        finally:
            del self.vars[mark:]

    def _template_name(self, token: lx.Item, context: str) -> str:
        if token.typ in (lx.STRING, lx.RAWSTRING):
            try:
                return unquote(token.val)
            except ValueError:
                raise self.errorf("invalid syntax") from None
        raise self.unexpected(token, context)

    def block_control(self) -> p.Node:
        context = "block clause"
        token = self.next_non_space()
        name = self._template_name(token, context)
        pipe = self.pipeline(context, lx.RDELIM)
        saved = self._sub_tree()
        self.tree = Tree(name, self.text, self.parse_name)
        self.tree.root, end = self.item_list()
        if not isinstance(end, p._End):
            raise self.errorf(f"unexpected {end} in {context}")
        self.add(self.tree)
        self.vars, self.range_depth, self.tree = saved
        return p.TemplateNode(token.pos, name, pipe)

    def template_control(self) -> p.Node:
        context = "template clause"
        token = self.next_non_space()
        name = self._template_name(token, context)
        pipe = None
        if self.next_non_space().typ != lx.RDELIM:
            self.backup()
            pipe = self.pipeline(context, lx.RDELIM)
        return p.TemplateNode(token.pos, name, pipe)

    def command(self) -> p.CommandNode:
        cmd = p.CommandNode(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            token = self.next()
            if token.typ == lx.SPACE:
                continue
            if token.typ in (lx.RDELIM, lx.RPAREN):
                self.backup()
            elif token.typ != lx.PIPE:
                raise self.unexpected(token, "operand")
            break
        if not cmd.args:
            raise self.errorf("empty command")
        return cmd

    def operand(self) -> p.Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == lx.FIELD:
            chain = p.ChainNode(self.peek().pos, node)
            while self.peek().typ == lx.FIELD:
                chain.fields.append(self.next().val[1:])
            if isinstance(node, p.FieldNode):
                return p.FieldNode(chain.pos, [*node.ident, *chain.fields])
            if isinstance(node, p.VariableNode):
                return p.VariableNode(chain.pos, [*node.ident, *chain.fields])
            if isinstance(node, (p.BoolNode, p.StringNode, p.NumberNode, p.NilNode, p.DotNode)):
                raise self.errorf(f"unexpected . after term {go_quote(str(node))}")
            return chain
        return node

    def term(self) -> p.Node | None:
        token = self.next_non_space()
        typ = token.typ
        if typ == lx.IDENT:
            if token.val not in self.funcs:
                raise self.errorf(f"function {go_quote(token.val)} not defined")
            return p.IdentifierNode(token.pos, token.val)
        if typ == lx.DOT:
            return p.DotNode(token.pos)
        if typ == lx.NIL:
            return p.NilNode(token.pos)
        if typ == lx.VARIABLE:
            name = token.val
            if name not in self.vars:
                raise self.errorf(f"undefined variable {go_quote(name)}")
            return p.VariableNode(token.pos, [name])
        if typ == lx.FIELD:
            return p.FieldNode(token.pos, token.val[1:].split("."))
        if typ == lx.BOOL:
            return p.BoolNode(token.pos, token.val == "true")
        if typ in (lx.CHARCONST, lx.COMPLEX, lx.NUMBER):
            try:
                return new_number(token.pos, token.val, typ)
            except ValueError as exc:
                raise self.errorf(str(exc)) from None
        if typ == lx.LPAREN:
            return self.pipeline("parenthesized pipeline", lx.RPAREN)
        if typ in (lx.STRING, lx.RAWSTRING):
            try:
                return p.StringNode(token.pos, token.val, unquote(token.val))
            except ValueError:
                raise self.errorf("invalid syntax") from None
        self.backup()
        return None


def parse(name: str, text: str, funcs: Collection[str]) -> dict[str, Tree]:
    """Parse ``text``; the trees by name (the template itself under ``name``)."""
    return _Parser(name, text, funcs, {}).parse()

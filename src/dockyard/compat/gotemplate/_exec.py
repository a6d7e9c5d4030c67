"""Go's ``text/template`` executor (exec.go, Go 1.19): walking the trees over Go-shaped data."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dockyard.compat import gofmt
from dockyard.compat.gotemplate import _parse as p
from dockyard.compat.gotemplate._errors import TemplateError
from dockyard.compat.gotemplate._parser import Tree
from dockyard.compat.gotypes import NOVALUE, Struct, type_name

_MISSING: Any = object()  # no final value from the pipeline (Go's missingVal)
MAX_DEPTH = 100000


@dataclass(frozen=True, slots=True)
class Func:
    """A template function: its Python body and Go's parameter types (``any``, ``value`` for reflect.Value,
    ``string``, ``int``, ``[]string``); ``variadic`` is the element type of a final ``...`` parameter."""

    fn: Callable[..., Any]
    params: tuple[str, ...]
    variadic: str | None = None
    builtin: bool = False


class CallError(Exception):
    """Raised by a function body: Go's ``error calling NAME: MSG``."""


@dataclass(frozen=True, slots=True)
class Boxed:
    """A value still inside ``interface{}`` (read from a map or a slice of ``interface{}``), handed to the
    builtins that look at an argument's own type without unwrapping it (``slice``'s indexes)."""

    value: Any


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def is_true(val: Any) -> bool:
    if val is NOVALUE or val is None:
        return False
    if isinstance(val, (bool, int, float, complex, str, list, tuple, dict)):
        return bool(val)
    return True


def _go_value(value: Any) -> Any:
    """What a pipeline's value becomes when it leaves ``interface{}`` (nil becomes no value)."""
    return NOVALUE if value is None else value


class State:
    def __init__(self, trees: Mapping[str, Tree], name: str, funcs: Mapping[str, Func], missing_error: bool) -> None:
        self.missing_error = missing_error
        self.trees = trees
        self.name = name
        self.funcs = funcs
        self.node: p.Node | None = None
        self.vars: list[tuple[str, Any, bool]] = []
        self.depth = 0
        self.last_wrapped = False
        self.out: list[str] = []
        self.tree = trees[name]

    # --- errors ---
    def at(self, node: p.Node) -> None:
        self.node = node

    def errorf(self, msg: str) -> TemplateError:
        name = self.name
        if self.node is None:
            return TemplateError(f"template: {name}: {msg}")
        text = self.tree.text
        pos = len(text[: self.node.pos].encode("utf-8", "surrogateescape"))
        before = text[: self.node.pos]
        nl = before.rfind("\n")
        col = pos if nl < 0 else len(before[nl + 1 :].encode("utf-8", "surrogateescape"))
        line = 1 + before.count("\n")
        where = f"{self.tree.parse_name}:{line}:{col}"
        return TemplateError(f"template: {where}: executing {gofmt.quote(name)} at <{self.node}>: {msg}")

    # --- variables ---
    def mark(self) -> int:
        return len(self.vars)

    def pop(self, mark: int) -> None:
        del self.vars[mark:]

    def push(self, name: str, value: Any, wrapped: bool = False) -> None:
        self.vars.append((name, value, wrapped))

    def set_var(self, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value, False)
                return
        raise self.errorf(f"undefined variable: {name}")

    def set_top_var(self, n: int, value: Any, wrapped: bool) -> None:
        name = self.vars[len(self.vars) - n][0]
        self.vars[len(self.vars) - n] = (name, value, wrapped)

    def var_value(self, name: str) -> tuple[Any, bool]:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                return self.vars[i][1], self.vars[i][2]
        raise self.errorf(f"undefined variable: {name}")

    # --- walking ---
    def walk(self, dot: Any, dw: bool, node: p.Node) -> None:
        self.at(node)
        if isinstance(node, p.ActionNode):
            val = self.eval_pipeline(dot, dw, node.pipe)
            if not node.pipe.decl:
                self.print_value(node, val)
        elif isinstance(node, p.ListNode):
            for n in node.nodes:
                self.walk(dot, dw, n)
        elif isinstance(node, p.TextNode):
            self.out.append(node.text)
        elif isinstance(node, p.BranchNode):
            if node.kind == "range":
                self.walk_range(dot, dw, node)
            else:
                self.walk_if_or_with(node, dot, dw)
        elif isinstance(node, p.TemplateNode):
            self.walk_template(dot, dw, node)
        elif isinstance(node, p.BreakNode):
            raise _Break
        elif isinstance(node, p.ContinueNode):
            raise _Continue
        elif isinstance(node, p.CommentNode):
            pass
        else:  # pragma: no cover
            raise self.errorf(f"unknown node: {node}")

    def walk_if_or_with(self, node: p.BranchNode, dot: Any, dw: bool) -> None:
        mark = self.mark()
        try:
            val = self.eval_pipeline(dot, dw, node.pipe)
            if is_true(val):
                if node.kind == "with":
                    self.walk(val, False, node.list)
                else:
                    self.walk(dot, dw, node.list)
            elif node.else_list is not None:
                self.walk(dot, dw, node.else_list)
        finally:
            self.pop(mark)

    def walk_range(self, dot: Any, dw: bool, r: p.BranchNode) -> None:
        self.at(r)
        outer = self.mark()
        try:
            val = self.eval_pipeline(dot, dw, r.pipe)
            mark = self.mark()
            if isinstance(val, (list, tuple)):
                items: list[tuple[Any, Any]] = list(enumerate(val))
            elif isinstance(val, dict):
                items = sorted(val.items())
            elif val is NOVALUE or val is None:
                items = []
            else:
                raise self.errorf(f"range can't iterate over {gofmt.sprint(val)}")
            wrapped = not isinstance(val, tuple)
            try:
                for index, elem in items:
                    if r.pipe.decl:
                        self.set_top_var(1, elem, wrapped)
                    if len(r.pipe.decl) > 1:
                        self.set_top_var(2, index, False)
                    try:
                        self.walk(elem, wrapped, r.list)
                    except _Continue:
                        pass
                    finally:
                        self.pop(mark)
            except _Break:
                return
            if not items and r.else_list is not None:
                self.walk(dot, dw, r.else_list)
        finally:
            self.pop(outer)

    def walk_template(self, dot: Any, dw: bool, t: p.TemplateNode) -> None:
        self.at(t)
        tree = self.trees.get(t.name)
        if tree is None:
            raise self.errorf(f"template {gofmt.quote(t.name)} not defined")
        if self.depth == MAX_DEPTH:
            raise self.errorf(f"exceeded maximum template depth ({MAX_DEPTH})")
        new_dot = self.eval_pipeline(dot, dw, t.pipe) if t.pipe is not None else NOVALUE
        saved = (self.name, self.tree, self.vars, self.depth)
        self.name, self.tree, self.vars = t.name, tree, [("$", new_dot, False)]
        self.depth += 1
        try:
            self.walk(new_dot, False, tree.root)
        finally:
            self.name, self.tree, self.vars, self.depth = saved

    # --- evaluation ---
    def eval_pipeline(self, dot: Any, dw: bool, pipe: p.PipeNode) -> Any:
        self.at(pipe)
        value: Any = _MISSING
        for cmd in pipe.cmds:
            value = _go_value(self.eval_command(dot, dw, cmd, value))
        for var in pipe.decl:
            if pipe.is_assign:
                self.set_var(var.ident[0], value)
            else:
                self.push(var.ident[0], value)
        return value

    def not_a_function(self, args: list[p.Node], final: Any) -> None:
        if len(args) > 1 or final is not _MISSING:
            raise self.errorf(f"can't give argument to non-function {args[0]}")

    def eval_command(self, dot: Any, dw: bool, cmd: p.CommandNode, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, p.FieldNode):
            return self.eval_field_node(dot, dw, first, cmd.args, final)
        if isinstance(first, p.ChainNode):
            return self.eval_chain_node(dot, dw, first, cmd.args, final)
        if isinstance(first, p.IdentifierNode):
            return self.eval_function(dot, dw, first, cmd, cmd.args, final)
        if isinstance(first, p.PipeNode):
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, dw, first)
        if isinstance(first, p.VariableNode):
            return self.eval_variable_node(dot, dw, first, cmd.args, final)
        self.at(first)
        self.not_a_function(cmd.args, final)
        if isinstance(first, p.BoolNode):
            return first.value
        if isinstance(first, p.DotNode):
            return dot
        if isinstance(first, p.NilNode):
            raise self.errorf("nil is not a command")
        if isinstance(first, p.NumberNode):
            return self.ideal_constant(first)
        if isinstance(first, p.StringNode):
            return first.text
        raise self.errorf(f"can't evaluate command {gofmt.quote(str(first))}")

    def ideal_constant(self, c: p.NumberNode) -> Any:
        self.at(c)
        text = c.text
        is_hex_int = len(text) > 2 and text[0] == "0" and text[1] in "xX" and not any(x in text for x in "pP")
        if c.is_complex:
            return c.complex_value
        if c.is_float and not is_hex_int and not text.startswith("'") and any(x in text for x in ".eEpP"):
            return c.float_value
        if c.is_int:
            return c.int_value
        if c.is_uint:
            raise self.errorf(f"{text} overflows int")
        return NOVALUE

    def eval_field_node(self, dot: Any, dw: bool, field: p.FieldNode, args: list[p.Node], final: Any) -> Any:
        self.at(field)
        return self.eval_field_chain(dot, dw, dot, dw, field, field.ident, args, final)

    def eval_chain_node(self, dot: Any, dw: bool, chain: p.ChainNode, args: list[p.Node], final: Any) -> Any:
        self.at(chain)
        if isinstance(chain.node, p.NilNode):
            raise self.errorf(f"indirection through explicit nil in {chain}")
        pipe = self.eval_arg(dot, dw, None, chain.node)
        return self.eval_field_chain(dot, dw, pipe, False, chain, chain.fields, args, final)

    def eval_variable_node(self, dot: Any, dw: bool, var: p.VariableNode, args: list[p.Node], final: Any) -> Any:
        self.at(var)
        value, wrapped = self.var_value(var.ident[0])
        if len(var.ident) == 1:
            self.not_a_function(args, final)
            self.last_wrapped = wrapped
            return value
        return self.eval_field_chain(dot, dw, value, wrapped, var, var.ident[1:], args, final)

    def eval_field_chain(
        self, dot: Any, dw: bool, receiver: Any, rw: bool, node: p.Node, ident: list[str], args: Any, final: Any
    ) -> Any:
        for name in ident[:-1]:
            receiver, rw = self.eval_field(name, None, _MISSING, receiver, rw)
        value, self.last_wrapped = self.eval_field(ident[-1], args, final, receiver, rw)
        return value

    def eval_field(self, name: str, args: list[p.Node] | None, final: Any, receiver: Any, rw: bool) -> tuple[Any, bool]:
        if receiver is NOVALUE:
            if self.missing_error:
                raise self.errorf(f"nil data; no entry for key {gofmt.quote(name)}")
            return NOVALUE, False
        typ = "interface {}" if rw else type_name(receiver)
        if receiver is None:
            raise self.errorf(f"nil pointer evaluating {typ}.{name}")
        has_args = (args is not None and len(args) > 1) or final is not _MISSING
        if isinstance(receiver, Struct):
            if name in receiver.fields:
                value = receiver.fields[name]
                if callable(value):
                    return self.eval_call(receiver, False, Func(value, ("any",) * 0, "any"), name, args, final), False
                if has_args:
                    raise self.errorf(f"{name} has arguments but cannot be invoked as function")
                return value, False
        elif isinstance(receiver, dict):
            if has_args:
                raise self.errorf(f"{name} is not a method but has arguments")
            if name in receiver:
                return receiver[name], True
            if self.missing_error:
                raise self.errorf(f"map has no entry for key {gofmt.quote(name)}")
            return NOVALUE, False
        raise self.errorf(f"can't evaluate field {name} in type {typ}")

    def eval_function(
        self, dot: Any, dw: bool, node: p.IdentifierNode, cmd: p.Node, args: list[p.Node], final: Any
    ) -> Any:
        self.at(node)
        func = self.funcs.get(node.ident)
        if func is None:
            raise self.errorf(f"{gofmt.quote(node.ident)} is not a defined function")
        return self.eval_call(dot, dw, func, node.ident, args, final, cmd)

    def eval_call(
        self,
        dot: Any,
        dw: bool,
        func: Func,
        name: str,
        args: list[p.Node] | None,
        final: Any,
        node: p.Node | None = None,
    ) -> Any:
        call_args = args[1:] if args is not None else []
        num_in = len(call_args) + (0 if final is _MISSING else 1)
        nparams = len(func.params)
        if func.variadic is not None:
            if num_in < nparams:
                raise self.errorf(f"wrong number of args for {name}: want at least {nparams} got {len(call_args)}")
        elif num_in != nparams:
            raise self.errorf(f"wrong number of args for {name}: want {nparams} got {num_in}")
        if func.builtin and name in ("and", "or"):
            v: Any = NOVALUE
            for arg in call_args:
                v = self.eval_arg(dot, dw, "value", arg)
                if is_true(v) == (name == "or"):
                    return v
            if final is not _MISSING:
                v = self.validate_type(final, "value")
            return v
        argv: list[Any] = []
        for i, arg in enumerate(call_args):
            typ = func.params[i] if i < nparams else func.variadic
            self.last_wrapped = isinstance(arg, p.DotNode) and dw
            value = self.eval_arg(dot, dw, typ, arg)
            boxed = name == "slice" and func.builtin and i > 0 and value is not NOVALUE
            if boxed and self.last_wrapped and isinstance(arg, (p.DotNode, p.FieldNode, p.VariableNode, p.ChainNode)):
                value = Boxed(value)
            argv.append(value)
        if final is not _MISSING:
            i = len(call_args)
            typ = func.params[i] if i < nparams else func.variadic
            argv.append(self.validate_type(final, typ))
        try:
            result = func.fn(*argv)
        except CallError as exc:
            if node is not None:
                self.at(node)
            raise self.errorf(f"error calling {name}: {exc}") from None
        return result

    def validate_type(self, value: Any, typ: str | None) -> Any:
        if value is NOVALUE:
            if typ is None:
                return NOVALUE
            if typ in ("any", "[]string"):
                return None
            if typ == "value":
                return NOVALUE
            raise self.errorf(f"invalid value; expected {typ}")
        if typ in (None, "any", "value"):
            return value
        got = type_name(value)
        if value is None:
            if typ == "[]string":
                return None
            got = "interface {}"
        elif got == typ:
            return value
        raise self.errorf(f"wrong type for value; expected {typ}; got {got}")

    def eval_arg(self, dot: Any, dw: bool, typ: str | None, n: p.Node) -> Any:
        self.at(n)
        if isinstance(n, p.DotNode):
            return self.validate_type(dot, typ)
        if isinstance(n, p.NilNode):
            if typ in ("any", "value", "[]string"):
                return None if typ != "value" else NOVALUE
            raise self.errorf(f"cannot assign nil to {typ}")
        if isinstance(n, p.FieldNode):
            return self.validate_type(self.eval_field_node(dot, dw, n, [n], _MISSING), typ)
        if isinstance(n, p.VariableNode):
            return self.validate_type(self.eval_variable_node(dot, dw, n, [n], _MISSING), typ)
        if isinstance(n, p.PipeNode):
            return self.validate_type(self.eval_pipeline(dot, dw, n), typ)
        if isinstance(n, p.IdentifierNode):
            return self.validate_type(self.eval_function(dot, dw, n, n, [n], _MISSING), typ)
        if isinstance(n, p.ChainNode):
            return self.validate_type(self.eval_chain_node(dot, dw, n, [n], _MISSING), typ)
        if typ == "string":
            if isinstance(n, p.StringNode):
                return n.text
            raise self.errorf(f"expected string; found {n}")
        if typ == "int":
            if isinstance(n, p.NumberNode) and n.is_int:
                return n.int_value
            raise self.errorf(f"expected integer; found {n}")
        if typ in ("any", "value"):
            if isinstance(n, p.BoolNode):
                return n.value
            if isinstance(n, p.NumberNode):
                return self.ideal_constant(n)
            if isinstance(n, p.StringNode):
                return n.text
        raise self.errorf(f"can't handle {n} for arg of type {typ}")

    def print_value(self, node: p.Node, value: Any) -> None:
        self.at(node)
        if value is NOVALUE:
            self.out.append("<no value>")
        elif isinstance(value, str):
            self.out.append(value)
        elif callable(value) and not isinstance(value, Struct):
            raise self.errorf(f"can't print {node} of type func")
        else:
            self.out.append(gofmt.sprint(value))


def execute(
    trees: Mapping[str, Tree], name: str, data: Any, funcs: Mapping[str, Func], *, missing_error: bool = False
) -> str:
    """Run the template ``name``; on error the :class:`TemplateError` carries what was written before it
    (``partial``), as Go's writer would hold it."""
    state = State(trees, name, funcs, missing_error)
    state.vars = [("$", data, False)]
    tree = trees.get(name)
    if tree is None:
        raise TemplateError(f"template: {name}: {gofmt.quote(name)} is an incomplete or empty template")
    try:
        state.walk(data, False, tree.root)
    except TemplateError as exc:
        exc.partial = "".join(state.out)
        raise
    return "".join(state.out)

"""Go's ``text/template/parse`` lexer, ported from Go 1.19 so that what is accepted, what is refused and the
words of each error are Go's."""

from __future__ import annotations

import unicodedata
from typing import Any

from dockyard.compat.gostrconv import go_quote, go_rune

# --- lexer -------------------------------------------------------------------------------------------------

ERROR, BOOL, CHAR, CHARCONST, COMMENT, COMPLEX, ASSIGN, DECLARE, EOF, FIELD, IDENT, LDELIM, LPAREN, NUMBER = range(14)
PIPE, RAWSTRING, RDELIM, RPAREN, SPACE, STRING, TEXT, VARIABLE, KEYWORD = range(14, 23)
BLOCK, BREAK, CONTINUE, DOT, DEFINE, ELSE, END, IF, NIL, RANGE, TEMPLATE, WITH = range(23, 35)
_KEYWORDS = {
    ".": DOT, "block": BLOCK, "break": BREAK, "continue": CONTINUE, "define": DEFINE, "else": ELSE,
    "end": END, "if": IF, "range": RANGE, "nil": NIL, "template": TEMPLATE, "with": WITH,
}  # fmt: skip
_SPACE = " \t\r\n"


class Item:
    """One lexeme: its type, its position (code points), its text and its line."""

    __slots__ = ("line", "pos", "typ", "val")

    def __init__(self, typ: int, pos: int, val: str, line: int) -> None:
        self.typ, self.pos, self.val, self.line = typ, pos, val, line

    def __str__(self) -> str:
        if self.typ == EOF:
            return "EOF"
        if self.typ == ERROR:
            return self.val
        if self.typ > KEYWORD:
            return f"<{self.val}>"
        if len(self.val) > 10:
            return go_quote(self.val[:10]) + "..."
        return go_quote(self.val)


def _is_alnum(ch: str) -> bool:
    return ch == "_" or ch.isalpha() or unicodedata.category(ch) == "Nd" if ch else False


def _is_printable_ascii(ch: str) -> bool:
    return " " <= ch <= "~"


class _Lexer:
    def __init__(self, text: str) -> None:
        self.input = text
        self.pos = 0
        self.start = 0
        self.line = 1
        self.start_line = 1
        self.paren_depth = 0
        self.items: list[Item] = []
        self.done = False

    # Go works on bytes; positions here are code points and converted when reported.
    def next(self) -> str:
        if self.pos >= len(self.input):
            self.pos = len(self.input) + 1  # past the end: backup() undoes it
            return ""
        ch = self.input[self.pos]
        self.pos += 1
        if ch == "\n":
            self.line += 1
        return ch

    def peek(self) -> str:
        return self.input[self.pos] if self.pos < len(self.input) else ""

    def backup(self) -> None:
        if self.pos > len(self.input):
            self.pos = len(self.input)
            return
        if self.pos > 0:
            self.pos -= 1
            if self.input[self.pos] == "\n":
                self.line -= 1

    def emit(self, typ: int) -> None:
        self.items.append(Item(typ, self.start, self.input[self.start : self.pos], self.start_line))
        self.start = self.pos
        self.start_line = self.line

    def ignore(self) -> None:
        self.line += self.input.count("\n", self.start, self.pos)
        self.start = self.pos
        self.start_line = self.line

    def accept(self, valid: str) -> bool:
        ch = self.next()
        if ch and ch in valid:
            return True
        self.backup()
        return False

    def accept_run(self, valid: str) -> None:
        while True:
            ch = self.next()
            if not ch or ch not in valid:
                break
        self.backup()

    def errorf(self, msg: str) -> None:
        self.items.append(Item(ERROR, self.start, msg, self.start_line))
        self.done = True

    def at_right_delim(self) -> tuple[bool, bool]:
        rest = self.input[self.pos :]
        if _has_right_trim(rest) and rest[2:].startswith("}}"):
            return True, True
        return rest.startswith("}}"), False

    def at_terminator(self) -> bool:
        ch = self.peek()
        if not ch or ch in _SPACE or ch in ".,|:)(":
            return True
        return self.input.startswith("}}", self.pos)

    def run(self) -> list[Item]:
        state: Any = self.lex_text
        while state is not None and not self.done:
            state = state()
        return self.items

    def lex_text(self) -> Any:
        x = self.input.find("{{", self.pos)
        if x >= 0:
            self.pos = x
            trim = 0
            if _has_left_trim(self.input[x + 2 :]):
                segment = self.input[self.start : self.pos]
                trim = len(segment) - len(segment.rstrip(_SPACE))
            self.pos -= trim
            if self.pos > self.start:
                self.line += self.input.count("\n", self.start, self.pos)
                self.emit(TEXT)
            self.pos += trim
            self.ignore()
            return self.lex_left_delim
        self.pos = len(self.input)
        if self.pos > self.start:
            self.line += self.input.count("\n", self.start, self.pos)
            self.emit(TEXT)
        self.emit(EOF)
        return None

    def lex_left_delim(self) -> Any:
        self.pos += 2
        trim = _has_left_trim(self.input[self.pos :])
        after = 2 if trim else 0
        if self.input.startswith("/*", self.pos + after):
            self.pos += after
            self.ignore()
            return self.lex_comment
        self.emit(LDELIM)
        self.pos += after
        self.ignore()
        self.paren_depth = 0
        return self.lex_inside_action

    def lex_comment(self) -> Any:
        self.pos += 2
        i = self.input.find("*/", self.pos)
        if i < 0:
            return self.errorf("unclosed comment")
        self.pos = i + 2
        delim, trim = self.at_right_delim()
        if not delim:
            return self.errorf("comment ends before closing delimiter")
        if trim:
            self.pos += 2
        self.pos += 2
        if trim:
            rest = self.input[self.pos :]
            self.pos += len(rest) - len(rest.lstrip(_SPACE))
        self.ignore()
        return self.lex_text

    def lex_right_delim(self) -> Any:
        trim = _has_right_trim(self.input[self.pos :])
        if trim:
            self.pos += 2
            self.ignore()
        self.pos += 2
        self.emit(RDELIM)
        if trim:
            rest = self.input[self.pos :]
            self.pos += len(rest) - len(rest.lstrip(_SPACE))
            self.ignore()
        return self.lex_text

    def lex_inside_action(self) -> Any:
        delim, _ = self.at_right_delim()
        if delim:
            if self.paren_depth == 0:
                return self.lex_right_delim
            return self.errorf("unclosed left paren")
        ch = self.next()
        if ch == "":
            return self.errorf("unclosed action")
        if ch in _SPACE:
            self.backup()
            return self.lex_space
        if ch == "=":
            self.emit(ASSIGN)
        elif ch == ":":
            if self.next() != "=":
                return self.errorf("expected :=")
            self.emit(DECLARE)
        elif ch == "|":
            self.emit(PIPE)
        elif ch == '"':
            return self.lex_quote
        elif ch == "`":
            return self.lex_raw_quote
        elif ch == "$":
            return self.lex_variable
        elif ch == "'":
            return self.lex_char
        elif ch == "." and self.pos < len(self.input) and not ("0" <= self.input[self.pos] <= "9"):
            return self.lex_field
        elif ch in ".+-" or "0" <= ch <= "9":
            self.backup()
            return self.lex_number
        elif _is_alnum(ch):
            self.backup()
            return self.lex_identifier
        elif ch == "(":
            self.emit(LPAREN)
            self.paren_depth += 1
        elif ch == ")":
            self.emit(RPAREN)
            self.paren_depth -= 1
            if self.paren_depth < 0:
                return self.errorf(f"unexpected right paren {go_rune(ch)}")
        elif _is_printable_ascii(ch):
            self.emit(CHAR)
        else:
            return self.errorf(f"unrecognized character in action: {go_rune(ch)}")
        return self.lex_inside_action

    def lex_space(self) -> Any:
        spaces = 0
        while self.peek() and self.peek() in _SPACE:
            self.next()
            spaces += 1
        if _has_right_trim(self.input[self.pos - 1 :]) and self.input.startswith("}}", self.pos + 1):
            self.backup()
            if spaces == 1:
                return self.lex_right_delim
        self.emit(SPACE)
        return self.lex_inside_action

    def lex_identifier(self) -> Any:
        while True:
            ch = self.next()
            if ch and _is_alnum(ch):
                continue
            self.backup()
            word = self.input[self.start : self.pos]
            if not self.at_terminator():
                return self.errorf(f"bad character {go_rune(ch)}")
            if word in _KEYWORDS and _KEYWORDS[word] > KEYWORD:
                self.emit(_KEYWORDS[word])
            elif word[0] == ".":
                self.emit(FIELD)
            elif word in ("true", "false"):
                self.emit(BOOL)
            else:
                self.emit(IDENT)
            return self.lex_inside_action

    def lex_field(self) -> Any:
        return self.lex_field_or_variable(FIELD)

    def lex_variable(self) -> Any:
        if self.at_terminator():
            self.emit(VARIABLE)
            return self.lex_inside_action
        return self.lex_field_or_variable(VARIABLE)

    def lex_field_or_variable(self, typ: int) -> Any:
        if self.at_terminator():
            self.emit(VARIABLE if typ == VARIABLE else DOT)
            return self.lex_inside_action
        while True:
            ch = self.next()
            if not (ch and _is_alnum(ch)):
                self.backup()
                break
        if not self.at_terminator():
            return self.errorf(f"bad character {go_rune(ch)}")
        self.emit(typ)
        return self.lex_inside_action

    def _scan_quoted(self, quote: str, message: str) -> bool:
        while True:
            ch = self.next()
            if ch == "\\":
                ch = self.next()
                if ch and ch != "\n":
                    continue
                self.errorf(message)
                return False
            if ch in ("", "\n"):
                self.errorf(message)
                return False
            if ch == quote:
                return True

    def lex_char(self) -> Any:
        if self._scan_quoted("'", "unterminated character constant"):
            self.emit(CHARCONST)
            return self.lex_inside_action
        return None

    def lex_quote(self) -> Any:
        if self._scan_quoted('"', "unterminated quoted string"):
            self.emit(STRING)
            return self.lex_inside_action
        return None

    def lex_raw_quote(self) -> Any:
        end = self.input.find("`", self.pos)
        if end < 0:
            self.pos = len(self.input)
            return self.errorf("unterminated raw quoted string")
        self.line += self.input.count("\n", self.pos, end + 1)
        self.pos = end + 1
        self.emit(RAWSTRING)
        return self.lex_inside_action

    def lex_number(self) -> Any:
        if not self.scan_number():
            return self.errorf(f"bad number syntax: {go_quote(self.input[self.start : self.pos])}")
        if self.peek() in ("+", "-") and self.peek():
            if not self.scan_number() or self.input[self.pos - 1] != "i":
                return self.errorf(f"bad number syntax: {go_quote(self.input[self.start : self.pos])}")
            self.emit(COMPLEX)
        else:
            self.emit(NUMBER)
        return self.lex_inside_action

    def scan_number(self) -> bool:
        self.accept("+-")
        digits = "0123456789_"
        if self.accept("0"):
            if self.accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self.accept("oO"):
                digits = "01234567_"
            elif self.accept("bB"):
                digits = "01_"
        self.accept_run(digits)
        if self.accept("."):
            self.accept_run(digits)
        if len(digits) == 11 and self.accept("eE"):
            self.accept("+-")
            self.accept_run("0123456789_")
        if len(digits) == 23 and self.accept("pP"):
            self.accept("+-")
            self.accept_run("0123456789_")
        self.accept("i")
        if self.peek() and _is_alnum(self.peek()):
            self.next()
            return False
        return True


def _has_left_trim(s: str) -> bool:
    return len(s) >= 2 and s[0] == "-" and s[1] in _SPACE


def _has_right_trim(s: str) -> bool:
    return len(s) >= 2 and s[0] in _SPACE and s[1] == "-"


def lex(text: str) -> list[Item]:
    return _Lexer(text).run()

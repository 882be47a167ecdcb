"""A correct json_stream in another style: recursive descent written as generators. Each parse
function receives characters through `yield`, one at a time, and returns the first character it did
not consume; feed() sends characters in, result() sends None for the end of input. The SSE decoder
keeps a buffer and searches it for line ends."""

import copy

WS = " \t\n\r"
SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
HEXDIGITS = "0123456789abcdefABCDEF"
WORDS = {"t": ("true", True), "f": ("false", False), "n": ("null", None)}
MISSING = object()


class JSONStreamError(ValueError):
    def __init__(self, message, offset):
        super().__init__(f"{message} at offset {offset}")
        self.offset = offset


class JSONStreamParser:
    def __init__(self):
        self.pos = 0  # index of the character being looked at
        self.root = MISSING
        self.open_string = None  # (container or None, key or None, list of chars) of an open value string
        self.machine = self.document()
        next(self.machine)

    # ---- driving the generators

    def feed(self, chunk):
        for ch in chunk:
            self.machine.send(ch)
            self.pos += 1

    def result(self):
        try:
            self.machine.send(None)
        except StopIteration as stop:
            return stop.value
        raise AssertionError("the document generator did not stop at the end of input")

    def partial(self):
        memo = {}
        snapshot = copy.deepcopy(self.root, memo) if self.root is not MISSING else None
        if self.open_string is not None:
            container, key, chars = self.open_string
            text = "".join(chars)
            if container is None:
                return text
            target = memo[id(container)]
            if isinstance(target, list):
                target.append(text)
            else:
                target[key] = text
        return snapshot

    def bad(self, ch):
        if ch is None:
            return JSONStreamError("unexpected end of input", self.pos)
        return JSONStreamError(f"unexpected {ch!r}", self.pos)

    # ---- the grammar; each function gets the current character and returns the next unused one

    def document(self):
        ch = yield
        ch = yield from self.skip(ch)
        value, ch = yield from self.value(ch, None, None)
        ch = yield from self.skip(ch)
        if ch is not None:
            raise self.bad(ch)
        return value

    def skip(self, ch):
        while ch is not None and ch in WS:
            ch = yield
        return ch

    def attach(self, parent, key, value):
        if parent is None:
            self.root = value
        elif isinstance(parent, list):
            parent.append(value)
        else:
            parent[key] = value

    def value(self, ch, parent, key):
        if ch == "{":
            return (yield from self.obj(parent, key))
        if ch == "[":
            return (yield from self.arr(parent, key))
        if ch == '"':
            chars = []
            self.open_string = (parent, key, chars)
            text = yield from self.string(chars)
            self.open_string = None
            self.attach(parent, key, text)
            return text, (yield)
        if ch is not None and (ch == "-" or ch.isascii() and ch.isdigit()):
            number, ch = yield from self.number(ch)
            self.attach(parent, key, number)
            return number, ch
        if ch in WORDS:
            word, result = WORDS[ch]
            for expected in word[1:]:
                ch = yield
                if ch != expected:
                    raise self.bad(ch)
            self.attach(parent, key, result)
            return result, (yield)
        raise self.bad(ch)

    def arr(self, parent, key):
        items = []
        self.attach(parent, key, items)
        ch = yield from self.skip((yield))
        if ch == "]":
            return items, (yield)
        while True:
            _, ch = yield from self.value(ch, items, None)
            ch = yield from self.skip(ch)
            if ch == "]":
                return items, (yield)
            if ch != ",":
                raise self.bad(ch)
            ch = yield from self.skip((yield))

    def obj(self, parent, key):
        members = {}
        self.attach(parent, key, members)
        ch = yield from self.skip((yield))
        if ch == "}":
            return members, (yield)
        while True:
            if ch != '"':
                raise self.bad(ch)
            name = yield from self.string([])
            ch = yield from self.skip((yield))
            if ch != ":":
                raise self.bad(ch)
            ch = yield from self.skip((yield))
            _, ch = yield from self.value(ch, members, name)
            ch = yield from self.skip(ch)
            if ch == "}":
                return members, (yield)
            if ch != ",":
                raise self.bad(ch)
            ch = yield from self.skip((yield))

    def string(self, chars):
        """After the opening quote: decode into `chars` until the closing quote; return the text."""
        high = None  # a high surrogate waiting for its pair
        while True:
            ch = yield
            if ch is None or ord(ch) < 0x20:
                raise self.bad(ch)
            if ch == '"':
                if high:
                    chars.append(high)
                return "".join(chars)
            if ch != "\\":
                if high:
                    chars.append(high)
                    high = None
                chars.append(ch)
                continue
            ch = yield
            if ch in SIMPLE:
                if high:
                    chars.append(high)
                    high = None
                chars.append(SIMPLE[ch])
                continue
            if ch != "u":
                raise self.bad(ch)
            digits = ""
            for _ in range(4):
                ch = yield
                if ch is None or ch not in HEXDIGITS:
                    raise self.bad(ch)
                digits += ch
            code = int(digits, 16)
            if high and 0xDC00 <= code <= 0xDFFF:
                chars.append(chr(((ord(high) - 0xD800) << 10 | (code - 0xDC00)) + 0x10000))
                high = None
                continue
            if high:
                chars.append(high)
                high = None
            if 0xD800 <= code <= 0xDBFF:
                high = chr(code)
            else:
                chars.append(chr(code))

    def number(self, ch):
        text = ""
        if ch == "-":
            text, ch = "-", (yield)
        if ch == "0":
            text, ch = text + "0", (yield)
        elif ch is not None and "1" <= ch <= "9":
            while ch is not None and "0" <= ch <= "9":
                text, ch = text + ch, (yield)
        else:
            raise self.bad(ch)
        is_float = False
        if ch == ".":
            is_float, text, ch = True, text + ".", (yield)
            if ch is None or not "0" <= ch <= "9":
                raise self.bad(ch)
            while ch is not None and "0" <= ch <= "9":
                text, ch = text + ch, (yield)
        if ch in ("e", "E"):
            is_float, text, ch = True, text + ch, (yield)
            if ch in ("+", "-"):
                text, ch = text + ch, (yield)
            if ch is None or not "0" <= ch <= "9":
                raise self.bad(ch)
            while ch is not None and "0" <= ch <= "9":
                text, ch = text + ch, (yield)
        return (float(text) if is_float else int(text)), ch


class SSEDecoder:
    def __init__(self):
        self.retry = None
        self.done = False
        self.buffer = ""
        self.skip_lf = False
        self.data = None

    def feed(self, chunk):
        out = []
        if self.done:
            return out
        if self.skip_lf and chunk:
            if chunk[0] == "\n":
                chunk = chunk[1:]
            self.skip_lf = False
        self.buffer += chunk
        start = 0
        while not self.done:
            cr, lf = self.buffer.find("\r", start), self.buffer.find("\n", start)
            ends = [i for i in (cr, lf) if i >= 0]
            if not ends:
                break
            end = min(ends)
            line = self.buffer[start:end]
            if self.buffer[end] == "\r":
                if end + 1 < len(self.buffer):
                    start = end + 2 if self.buffer[end + 1] == "\n" else end + 1
                else:
                    start = end + 1
                    self.skip_lf = True
            else:
                start = end + 1
            self.line(line, out)
        self.buffer = self.buffer[start:] if not self.done else ""
        return out

    def line(self, line, out):
        if line == "":
            if self.data is None:
                return
            text = "\n".join(self.data)
            self.data = None
            if text == "[DONE]":
                self.done = True
                return
            parser = JSONStreamParser()
            parser.feed(text)
            out.append(parser.result())
            return
        if line[0] == ":":
            return
        if ":" in line:
            name, value = line.split(":", 1)
            if value[:1] == " ":
                value = value[1:]
        else:
            name, value = line, ""
        if name == "data":
            self.data = (self.data or []) + [value]
        elif name == "retry" and value and all("0" <= c <= "9" for c in value):
            self.retry = int(value)

"""Model text made inert for every language it reaches: one function family per target.

Names, doc strings and producer names come from the model file, which may come from anyone, and
hold any text: quotes, newlines, ``*/``, backslash-newline, NUL, ``$(...)``, ``[exec ...]``,
ANSI escapes, Unicode line separators. Every generator and every printer passes such text through
the function of its target here, and nowhere else:

- C, C++ and OpenCL C: :func:`ident` (identifiers and file stems), :func:`c_string` (exact string
  literals), :func:`c_comment` (``//`` and ``/* */`` comments, Markdown too);
- shell and v++ config files: :func:`shell_word` (one exact word), :func:`shell_comment`;
- Tcl: :func:`tcl_word` (a reduced bare word), :func:`tcl_braced` / :func:`tcl_string` (exact
  words, no substitution), :func:`tcl_comment`;
- file names: :func:`file_stem`;
- HTML: :func:`html`; the terminal: :func:`terminal`.

Comments keep a reduced, one-line form of the text, cut to a length, so no comment can be
closed, continued onto the next line (backslash-newline, a ``??/`` trigraph) or made to hide
code. JSON needs nothing here: ``json.dumps`` escapes every string it writes.
"""
from __future__ import annotations

import html as _html
import re
import shlex

MAX_IDENT = 40
COMMENT_LIMIT = 60
LINE_LIMIT = 80

_NOT_IDENT = re.compile(r"[^A-Za-z0-9_]+")
# path-like names stay readable in C comments; no '*', '\\', '?', quote or space survives
_NOT_C_COMMENT = re.compile(r"[^A-Za-z0-9_./-]+")
_NOT_TCL_WORD = re.compile(r"[^A-Za-z0-9_.:-]")
_NOT_FILE = re.compile(r"[^A-Za-z0-9_.-]+")


# --- C, C++, OpenCL C ----------------------------------------------------------------------------
def ident(name: str, index: int | None = None, prefix: str = "L") -> str:
    """A C identifier (and file stem) for ``name``: ``L03_conv1`` for layer 3 named ``conv1``.

    Only ``[A-Za-z0-9_]`` is kept; the index prefix makes identifiers of different layers differ
    even when their names reduce to the same text, and keeps keywords (``int``) from appearing bare."""
    body = _NOT_IDENT.sub("_", str(name)).strip("_")[:MAX_IDENT].rstrip("_")
    head = f"{prefix}{index:02d}" if index is not None else ""
    if not body:
        return head or "x"
    if not head:
        return body if not body[0].isdigit() else "_" + body
    return f"{head}_{body}"


def c_string(text: str) -> str:
    """A C string literal holding exactly ``text`` (UTF-8); every byte outside [A-Za-z0-9_.-] as
    a three-digit octal escape, so no quote, backslash, newline, ``//``, ``*/`` or trigraph of the
    original survives."""
    out = []
    for b in str(text).encode("utf-8", "surrogatepass"):
        c = chr(b)
        out.append(c if (c.isascii() and (c.isalnum() or c in "_.-")) else f"\\{b:03o}")
    return '"' + "".join(out) + '"'


def c_comment(text: str, limit: int = COMMENT_LIMIT) -> str:
    """Text for a ``//`` or ``/* */`` comment (or Markdown): ``[A-Za-z0-9_./-]`` kept, every other
    run of characters one ``_``, at most ``limit`` characters. No ``*``, backslash, ``?`` or line
    break is left, so the comment can neither end early nor swallow the next line."""
    return _NOT_C_COMMENT.sub("_", str(text))[:limit] or "_"


# --- shell and line-oriented config files --------------------------------------------------------
def shell_word(text: str) -> str:
    """One shell word that expands to exactly ``text`` (single-quoted when needed; a NUL, which no
    shell word can hold, is dropped)."""
    return shlex.quote(str(text).replace("\0", ""))


def shell_comment(text: str, limit: int = LINE_LIMIT) -> str:
    """Text for a ``#`` comment of a shell script or a v++ config file: one line of printable
    characters (every other character, and backslash, as ``_``), at most ``limit`` long."""
    return _one_line(text, "\\", limit)


# --- Tcl -----------------------------------------------------------------------------------------
def tcl_word(text: str) -> str:
    """A bare Tcl word with nothing to substitute: only [A-Za-z0-9_.:-] kept, others as ``_``."""
    return _NOT_TCL_WORD.sub("_", str(text)) or "_"


def tcl_string(text: str) -> str:
    """A double-quoted Tcl word holding exactly ``text``: every character outside
    [A-Za-z0-9_.:-] as a ``\\u``/``\\U`` escape, so ``$``, ``[``, ``\\`` and newlines are inert."""
    out = []
    for ch in str(text):
        if ch.isascii() and (ch.isalnum() or ch in "_.:-"):
            out.append(ch)
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def tcl_braced(text: str) -> str:
    """An exact Tcl word for ``text``: ``{text}`` when braces keep it literal (no brace, backslash
    or non-printable character), else :func:`tcl_string`."""
    s = str(text)
    if s.isprintable() and not any(c in s for c in "{}\\"):
        return "{" + s + "}"
    return tcl_string(s)


def tcl_comment(text: str, limit: int = LINE_LIMIT) -> str:
    """Text for a Tcl ``#`` comment: one printable line without the characters Tcl gives a meaning
    even in comments (backslash continues one, braces count inside a body) or that a reader might
    take for a substitution (``$ [ ] " ;``)."""
    return _one_line(text, '\\{}[]$";', limit)


# --- file names ----------------------------------------------------------------------------------
def file_stem(text: str, limit: int = MAX_IDENT, default: str = "model") -> str:
    """A file name stem for ``text``: ASCII ``[A-Za-z0-9_.-]``, no leading dot or dash (so never
    ``.``, ``..`` or an option), no separator or NUL; ``default`` when nothing is left."""
    s = _NOT_FILE.sub("_", str(text))[:limit].lstrip(".-")
    return s or default


# --- HTML and the terminal -----------------------------------------------------------------------
def html(text: str) -> str:
    """Text for HTML element content or a quoted attribute: ``< > & " '`` as entities, every
    non-printable character as a visible escape."""
    return _html.escape(visible(text), quote=True)


def terminal(text: str, keep_newlines: bool = False) -> str:
    """Text safe to print: every control character (C0, C1 and so ESC, which starts ANSI and OSC
    sequences), line and paragraph separator and invisible format character shown as its Python
    escape (``\\x1b``, ``\\n``, ``\\u2028``); ``keep_newlines`` keeps ``\\n`` and tab (messages of
    several lines). Rich markup needs nothing more: tables print cells as ``rich.text.Text``."""
    if keep_newlines:
        return "\n".join("\t".join(visible(p) for p in line.split("\t")) for line in str(text).split("\n"))
    return visible(text)


def visible(text: str) -> str:
    """``text`` with each non-printable character (``str.isprintable``) as its Python escape."""
    s = str(text)
    if s.isprintable():
        return s
    return "".join(c if c.isprintable() else _escape_char(c) for c in s)


def _escape_char(c: str) -> str:
    n = ord(c)
    if n <= 0xFF:
        return f"\\x{n:02x}"
    return f"\\u{n:04x}" if n <= 0xFFFF else f"\\U{n:08x}"


def _one_line(text: str, drop: str, limit: int) -> str:
    s = str(text)
    out = "".join("_" if (not c.isprintable() or c in drop) else c for c in s[:limit])
    return out or "_"

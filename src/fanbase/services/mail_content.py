"""What a message's mail looks like: its templates compiled once, rendered for one fan, and built into the bytes
handed to SMTP. Pure: no database, no network, no clock.

``compile_content`` parses a message's subject, preheader and Markdown body as Jinja2 templates in the sandbox
and refuses, with the field and line, anything beyond merge fields (``{{ first_name | default("friend") }}``,
``{{ custom.shoe_size }}``) and ``{% if %}`` / ``{% elif %}`` / ``{% else %}`` / ``{% endif %}``: no loops, no
assignments, no calls, no ``*``, ``**``, ``/``, ``//`` or ``%``, so a template cannot spin, allocate gigabytes or
reach Python internals. ``render`` fills one fan in; ``mail_mime.build_mail`` wraps the result into a message.

How merge values are escaped: never by escaping them *for Markdown*. The body template is rendered with every
``{{ … }}`` output replaced by an inert placeholder (random letters and an index, absent from the source), so the
Markdown parser sees only what the author wrote and a value can neither add formatting or links nor break one. The
parsed Markdown becomes an HTML and a text skeleton holding the placeholders; each value is then put in its place
as what it is: HTML-escaped text in the HTML part, itself in the text part, and percent-encoded inside a link's
address (``?email={{ email }}`` works). Where a link goes (its scheme and host, a mailto's address) is the
author's: a merge field there is refused, so a fan's data never picks a link's destination. Backslash-escaping
values instead would leave visible backslashes in code spans and reach link addresses unencoded. The skeleton
depends only on which ``{% if %}`` branches a fan took, so it is cached per compiled message: most fans cost a
template render and two substitutions, not a Markdown parse (about 35 µs instead of 800 µs for a 2 KB body).

The HTML and text documents and the RFC 5322 message are assembled in ``services.mail_mime``.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from decimal import Decimal
from typing import Any
from typing import NoReturn
from urllib.parse import quote

from jinja2 import Template
from jinja2 import TemplateError
from jinja2 import TemplateSyntaxError
from jinja2 import Undefined
from jinja2 import nodes
from jinja2 import pass_context
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markdown_it import MarkdownIt
from markdown_it.token import Token

from fanbase.errors import InvalidInput

MERGE_FIELDS: tuple[str, ...] = (
    "email",
    "first_name",
    "last_name",
    "country",
    "city",
    "lifecycle_stage",
    "total_spent",
    "purchase_count",
    "custom",
)
_SCALAR_FIELDS = tuple(name for name in MERGE_FIELDS if name != "custom")
FILTERS: tuple[str, ...] = ("default", "upper", "lower", "title", "capitalize", "trim", "truncate", "round", "int")
TESTS: tuple[str, ...] = ("defined", "undefined", "none", "number", "string")
MAX_SUBJECT_CHARACTERS = 200  # RFC 5322 allows 998 bytes a line; no one reads past the first few dozen characters
MAX_PREHEADER_CHARACTERS = 250
MAX_BODY_CHARACTERS = 100_000
MAX_RENDERED_CHARACTERS = 1_000_000  # per part, for one fan: merge values can be long, a mail must not be


@dataclass(frozen=True)
class Content:
    subject: str
    preheader: str
    body: str  # Markdown with merge fields


@dataclass(frozen=True)
class Sender:
    name: str
    address: str


@dataclass(frozen=True)
class Links:
    """One recipient's links, made and signed by the caller."""

    unsubscribe_url: str  # https URL: List-Unsubscribe (one-click POST) and the footer
    unsubscribe_mailto: str  # "mailto:unsubscribe@example.com?subject=unsubscribe%20<token>"
    open_pixel_url: str | None = None  # None: no open tracking
    click_url: Callable[[str], str] | None = None  # one link's target -> its tracked redirect; None: no click tracking


@dataclass(frozen=True)
class Rendered:
    """One fan's mail before its links: the HTML and text of the body alone (``mail_mime.build_html`` and
    ``build_text`` add the preheader, the footer and tracking)."""

    subject: str
    preheader: str
    html: str
    text: str


@dataclass(frozen=True)
class _Skeleton:
    html: str
    text: str


@dataclass(frozen=True)
class CompiledContent:
    content: Content
    subject: Template
    preheader: Template
    body: Template
    placeholder: re.Pattern[str]  # matches the body's placeholders: (t|u) for text or link address, and the index
    placeholder_prefix: str
    skeletons: dict[str, _Skeleton] = dataclass_field(default_factory=dict, compare=False, repr=False)


# --- the template language -----------------------------------------------------------------------------------

_COLLECTOR = "__fanbase_collector"  # a name no template can write: merge field names are checked
_MAX_SKELETONS = 256  # distinct {% if %} paths cached per message; past that, parse each time
_WHITESPACE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")


def clean_text(value: object) -> str:
    """A value on one line: control characters and runs of white space become one space."""
    if value is None or isinstance(value, Undefined):
        return ""
    return _WHITESPACE.sub(" ", str(value)).strip()


class _Missing(Undefined):
    """A missing merge value: renders as nothing, and compares as false instead of failing the mail, so
    ``{% if custom.shoe_size > 40 %}`` simply skips fans who have no shoe size."""

    __slots__ = ()

    # Undefined types these as failing (NoReturn); answering False is the point of this class.
    def __lt__(self, other: object) -> bool:  # type: ignore[override]
        return False

    __le__ = __gt__ = __ge__ = __lt__  # type: ignore[assignment]


class _CustomFields:
    """``custom`` in a template: item access only, so ``custom.items`` is the custom field "items", never a
    method; a missing or None value is undefined."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = values

    def __getitem__(self, name: object) -> Any:
        value = self._values.get(name) if isinstance(name, str) else None
        if value is None:
            raise KeyError(name)
        return value


class _Collector:
    """Takes each ``{{ … }}`` output of one render: the value itself (subject, preheader) or, for the body, a
    placeholder standing for it. Counts what was taken so a render cannot grow past its bound."""

    __slots__ = ("field", "prefix", "size", "values")

    def __init__(self, *, field: str, prefix: str | None) -> None:
        self.field = field
        self.prefix = prefix
        self.values: list[str] = []
        self.size = 0

    def take(self, value: object) -> str:
        text = clean_text(value)
        self.size += len(text)
        if self.size > MAX_RENDERED_CHARACTERS:
            _too_large(self.field)
        if self.prefix is None:
            return text
        self.values.append(text)
        return f"{self.prefix}t{len(self.values) - 1}z"


def _too_large(field: str) -> NoReturn:
    raise InvalidInput(f"rendered for this fan it is over {MAX_RENDERED_CHARACTERS:,} characters", field=field)


@pass_context
def _finalize(context: Context, value: object) -> str:
    collector: _Collector = context[_COLLECTOR]
    return collector.take(value)


def _default(value: object, fallback: object = "", boolean: bool = True) -> object:
    """``default``: None and blank text count as missing too (a blank first name gets "friend"); 0 does not.
    ``boolean`` is Jinja's switch for that, accepted so ``default("friend", true)`` works, and always on."""
    is_blank = isinstance(value, str) and not value.strip()
    return fallback if value is None or is_blank or isinstance(value, Undefined) else value


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _round(value: object, precision: int = 0) -> object:
    if not _is_number(value):
        return value
    return round(value, max(0, min(int(precision), 10)))  # type: ignore[call-overload]


def _int(value: object) -> object:
    if _is_number(value):
        return int(value)  # type: ignore[call-overload]
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d{1,30}\s*", value):
        return int(value)
    return value


def _truncate(value: object, length: int = 255, end: str = "…") -> str:
    text = clean_text(value)
    return text if len(text) <= length else text[: max(0, length - len(end))].rstrip() + end


_REFUSED_OPERATORS = frozenset({"*", "**", "/", "//", "%"})  # "x" * 10**9, 9**9**9, division by zero, "%s" % …


class _Environment(ImmutableSandboxedEnvironment):
    # Refused at compile time already; the sandbox refuses them again should a template ever reach it.
    intercepted_binops = _REFUSED_OPERATORS

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        raise SecurityError(f"the operator {operator!r} is not allowed")


_ENVIRONMENT = _Environment(
    autoescape=False,  # values are escaped where they land (see the module docstring), not by Jinja
    undefined=_Missing,
    finalize=_finalize,
    trim_blocks=True,  # a line holding only {% if %} leaves no blank line in the Markdown
    lstrip_blocks=True,
    keep_trailing_newline=True,
    cache_size=0,
)
_ENVIRONMENT.globals.clear()  # no range(), dict(), lipsum(), …
_ENVIRONMENT.filters = {
    "default": _default,
    "trim": clean_text,
    "truncate": _truncate,
    "round": _round,
    "int": _int,
    "upper": lambda value: clean_text(value).upper(),
    "lower": lambda value: clean_text(value).lower(),
    "title": lambda value: clean_text(value).title(),
    "capitalize": lambda value: clean_text(value).capitalize(),
}
_ENVIRONMENT.tests = {
    "defined": lambda value: not isinstance(value, Undefined),
    "undefined": lambda value: isinstance(value, Undefined),
    "none": lambda value: value is None,
    "number": _is_number,
    "string": lambda value: isinstance(value, str),
}

# The tags of Jinja's statements whose class names are not their tags.
_STATEMENTS = {
    "CallBlock": "call",
    "FilterBlock": "filter",
    "FromImport": "from",
    "Assign": "set",
    "AssignBlock": "set",
    "Scope": "autoescape",
}
# With the merge fields, filters and tests: all the expressions a template may hold.
_EXPRESSIONS = (
    nodes.Literal,
    nodes.BinExpr,
    nodes.UnaryExpr,
    nodes.Compare,
    nodes.Operand,
    nodes.CondExpr,
    nodes.Concat,
)
_KNOWN_FIELDS = ", ".join(name if name != "custom" else "custom.<name>" for name in MERGE_FIELDS)


def compile_content(content: Content, *, custom_fields: Collection[str] | None = None) -> CompiledContent:
    """Parse and check a message once; render it for many fans with ``render``. ``custom_fields``, when given,
    are the workspace's custom field names, and ``custom.<name>`` must be one of them."""
    for name, text, limit in (
        ("subject", content.subject, MAX_SUBJECT_CHARACTERS),
        ("preheader", content.preheader, MAX_PREHEADER_CHARACTERS),
        ("body", content.body, MAX_BODY_CHARACTERS),
    ):
        if len(text) > limit:
            raise InvalidInput(f"at most {limit:,} characters (this one has {len(text):,})", field=name)
    prefix = "fbm" + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(12))
    while prefix in content.body:  # pragma: no cover - one chance in 26**12
        prefix = "fbm" + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(12))
    compiled = CompiledContent(
        content=content,
        subject=_compile_template(content.subject, field="subject", custom_fields=custom_fields),
        preheader=_compile_template(content.preheader, field="preheader", custom_fields=custom_fields),
        body=_compile_template(content.body, field="body", custom_fields=custom_fields),
        placeholder=re.compile(re.escape(prefix) + r"([tu])(\d+)z"),
        placeholder_prefix=prefix,
    )
    _check_link_targets(content.body, prefix)
    return compiled


def _check_link_targets(source: str, prefix: str) -> None:
    """Refuse, with its line, a merge field that would choose where a link goes. Checked on the body's Markdown
    with every branch's text in it (so on more links than any one fan sees); ``render`` checks each fan's too."""
    pieces: list[str] = []
    lines: list[int] = []
    for line, kind, value in _ENVIRONMENT.lex(source):
        if kind == "data":
            pieces.append(value)
        elif kind == "variable_begin":
            pieces.append(f"{prefix}t{len(lines)}z")
            lines.append(line)
    for token, name in _link_addresses(_MARKDOWN.parse("".join(pieces))):
        index = _placeholder_in_target(str(token.attrs[name]), prefix)
        if index is not None:
            raise InvalidInput(f"line {lines[index]}: {_LINK_TARGET_REFUSED}", field="body")


def _compile_template(source: str, *, field: str, custom_fields: Collection[str] | None) -> Template:
    try:
        tree = _ENVIRONMENT.parse(source)
        _check_node(tree, field=field, custom_fields=custom_fields)
        return _ENVIRONMENT.from_string(tree)
    except TemplateSyntaxError as error:
        raise InvalidInput(f"line {error.lineno}: {error.message}", field=field) from None


def _check_node(node: nodes.Node, *, field: str, custom_fields: Collection[str] | None) -> None:
    def refuse(message: str) -> NoReturn:
        line = node.lineno or next((inner.lineno for inner in node.find_all(nodes.Node) if inner.lineno), 1)
        raise InvalidInput(f"line {line}: {message}", field=field)

    match node:
        case nodes.Template() | nodes.Output() | nodes.If():
            pass
        case nodes.Stmt():
            kind = type(node).__name__
            tag = _STATEMENTS.get(kind, kind.lower())
            refuse(
                f"{{% {tag} %}} is not allowed; a template may use merge fields ({{{{ first_name }}}}) and "
                "{% if %}, {% elif %}, {% else %}, {% endif %}"
            )
        case nodes.Name(name=name):
            if name == "custom":
                refuse("write custom.<name> to use a custom field")
            if name not in MERGE_FIELDS:
                refuse(f"unknown merge field {name!r}; known fields: {_KNOWN_FIELDS}")
        case (
            nodes.Getattr(node=nodes.Name(name="custom"), attr=name)
            | nodes.Getitem(node=nodes.Name(name="custom"), arg=nodes.Const(value=str() as name))
        ):
            if name.startswith("_"):
                refuse(f"custom field names cannot start with '_' ({name!r})")
            if custom_fields is not None and name not in custom_fields:
                known = ", ".join(sorted(custom_fields)) or "none"
                refuse(f"unknown custom field {name!r}; known custom fields: {known}")
            return
        case nodes.Getattr() | nodes.Getitem() | nodes.Slice():
            refuse("only custom fields have parts (custom.<name>); nothing else can be read from a merge field")
        case nodes.Call():
            refuse("calling functions or methods is not allowed")
        case nodes.Filter(name=name) | nodes.Test(name=name):
            known_names = FILTERS if isinstance(node, nodes.Filter) else TESTS
            kind = "filter" if isinstance(node, nodes.Filter) else "test"
            if name not in known_names:
                refuse(f"unknown {kind} {name!r}; available: {', '.join(known_names)}")
            if node.dyn_args is not None or node.dyn_kwargs is not None:
                refuse(f"the {kind} {name!r} takes plain arguments")
        case nodes.BinExpr(operator=operator) if operator in _REFUSED_OPERATORS:
            refuse(f"the operator {operator!r} is not allowed")
        case _ if not isinstance(node, _EXPRESSIONS):
            refuse(f"this expression is not allowed ({type(node).__name__})")
    for child in node.iter_child_nodes():
        _check_node(child, field=field, custom_fields=custom_fields)


# --- rendering -------------------------------------------------------------------------------------------------

_MARKDOWN = MarkdownIt("commonmark", {"html": False})  # raw HTML in the body shows as text; no bare-URL linking


def render(compiled: CompiledContent, fan: Mapping[str, Any]) -> Rendered:
    """One fan's mail. ``fan`` holds the merge values; a missing or None value is undefined (``default``
    applies), ``fan["custom"]`` the custom field values. Raises ``InvalidInput`` (with the field) when a template
    fails for this fan, e.g. ``total_spent + first_name``, or grows past ``MAX_RENDERED_CHARACTERS``."""
    custom = fan.get("custom")
    variables: dict[str, Any] = {name: fan[name] for name in _SCALAR_FIELDS if fan.get(name) is not None}
    variables["custom"] = _CustomFields(custom if isinstance(custom, Mapping) else {})
    subject = clean_text(_render_template(compiled.subject, variables, _Collector(field="subject", prefix=None)))
    preheader = clean_text(_render_template(compiled.preheader, variables, _Collector(field="preheader", prefix=None)))
    collector = _Collector(field="body", prefix=compiled.placeholder_prefix)
    source = _render_template(compiled.body, variables, collector)
    skeleton = compiled.skeletons.get(source)
    if skeleton is None:
        skeleton = _skeleton(source, compiled.placeholder_prefix)
        if len(compiled.skeletons) < _MAX_SKELETONS:
            compiled.skeletons[source] = skeleton
    values = collector.values

    def in_html(match: re.Match[str]) -> str:
        value = values[int(match[2])]
        return quote(value, safe="") if match[1] == "u" else html.escape(value)

    def in_text(match: re.Match[str]) -> str:
        value = values[int(match[2])]
        return quote(value, safe="") if match[1] == "u" else value

    return Rendered(
        subject=subject,
        preheader=preheader,
        html=compiled.placeholder.sub(in_html, skeleton.html),
        text=compiled.placeholder.sub(in_text, skeleton.text),
    )


def _render_template(template: Template, variables: dict[str, Any], collector: _Collector) -> str:
    chunks: list[str] = []
    size = 0
    try:
        for chunk in template.generate({**variables, _COLLECTOR: collector}):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_RENDERED_CHARACTERS:  # the template's own text; the collector bounds the values
                _too_large(collector.field)
    except (TemplateError, TypeError, ValueError, ArithmeticError) as error:
        message = error.message if isinstance(error, TemplateError) else str(error)
        raise InvalidInput(f"cannot be rendered for this fan: {message}", field=collector.field) from None
    return "".join(chunks)


def _skeleton(source: str, prefix: str) -> _Skeleton:
    """The body's Markdown, holding placeholders, as HTML and as text; placeholders in link addresses are marked
    ``u`` so their values are percent-encoded there."""
    tokens = _MARKDOWN.parse(source)
    for token, name in _link_addresses(tokens):
        address = str(token.attrs[name])
        if _placeholder_in_target(address, prefix) is not None:
            raise InvalidInput(_LINK_TARGET_REFUSED, field="body")
        token.attrs[name] = address.replace(prefix + "t", prefix + "u")
    return _Skeleton(html=_MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {}), text=_text_of(tokens))


def _link_addresses(tokens: Sequence[Token]) -> Iterator[tuple[Token, str]]:
    for token in tokens:
        for child in token.children or ():
            for inner in (child, *(child.children or ())):  # an image inside a link
                yield from ((inner, name) for name in ("href", "src") if name in inner.attrs)


# Where a link goes: its scheme and host, or all of a mailto:/tel: address; a merge field may only follow it.
_LINK_TARGET = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*:(?://[^/?#]*|[^?#]*))?")
_LINK_TARGET_REFUSED = (
    "a merge field cannot choose where a link goes (its start, scheme, host or mail address); "
    "use merge fields in the path or the query, as in https://example.com/tickets?email={{ email }}"
)


def _placeholder_in_target(address: str, prefix: str) -> int | None:
    """The index of the placeholder inside ``address``'s target, if there is one."""
    position = address.find(prefix)
    target = _LINK_TARGET.match(address)
    if position < 0 or position >= max(1, target.end() if target else 0):
        return None
    return int(re.match(r"[tu](\d+)", address[position + len(prefix) :])[1])  # type: ignore[index]


class _Container:
    """A list item or a quote in the text part: its marker starts its first line, its indent the others."""

    __slots__ = ("first", "rest", "started")

    def __init__(self, *, first: str, rest: str) -> None:
        self.first, self.rest, self.started = first, rest, False

    def prefix(self) -> str:
        if self.started:
            return self.rest
        self.started = True
        return self.first


def _text_of(tokens: Sequence[Token]) -> str:
    """Markdown tokens as readable plain text: paragraphs apart, list markers and quote marks kept, emphasis
    dropped, links as "text (address)"."""
    lines: list[str] = []
    containers: list[_Container] = []  # the open list items and quotes, outermost first
    tight: list[bool] = []
    force_blank = False

    def emit(block: str) -> None:
        nonlocal force_blank
        if lines and (force_blank or not (tight and tight[-1])):
            lines.append("".join(container.rest for container in containers if container.started).rstrip())
        force_blank = False
        for line in block.split("\n"):
            lines.append(("".join(container.prefix() for container in containers) + line).rstrip())

    for token in tokens:
        match token.type:
            case "inline":
                emit(_inline_text(token.children or ()))
            case "code_block" | "fence":
                emit("\n".join(f"    {line}" for line in token.content.rstrip("\n").split("\n")))
            case "hr":
                emit("----")
            case "bullet_list_open" | "ordered_list_open":
                force_blank = force_blank or not (tight and tight[-1])
                tight.append(False)
            case "bullet_list_close" | "ordered_list_close":
                tight.pop()
                force_blank = not (tight and tight[-1])
            case "paragraph_open" if tight:
                tight[-1] = token.hidden  # markdown-it hides the paragraphs of a tight list
            case "list_item_open":
                marker = f"{token.info}{token.markup} " if token.info else "- "
                containers.append(_Container(first=marker, rest=" " * len(marker)))
            case "blockquote_open":
                containers.append(_Container(first="> ", rest="> "))
            case "list_item_close" | "blockquote_close":
                containers.pop()
    return "\n".join(lines) + "\n" if lines else ""


def _inline_text(children: Sequence[Token]) -> str:
    parts: list[str] = []
    links: list[Token] = []
    for child in children:
        match child.type:
            case "text" | "code_inline":
                parts.append(child.content)
            case "softbreak" | "hardbreak":
                parts.append("\n")
            case "image":
                parts.append(_inline_text(child.children or ()))
            case "link_open":
                links.append(child)
            case "link_close" if links:
                link = links.pop()
                if link.markup != "autolink":
                    parts.append(f" ({link.attrs.get('href', '')})")
    return "".join(parts)

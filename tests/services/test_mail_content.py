"""Mail content (issue 16): templates compiled and checked once, rendered per fan with values escaped where they
land, built into a multipart/alternative RFC 5322 message. Every mail is parsed back with the standard library's
parser (``email.policy.default``); no database, no network."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from email.header import decode_header
from email.header import make_header
from email.message import EmailMessage
from email.utils import format_datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

import pytest
from jinja2.exceptions import SecurityError

from fanbase.errors import InvalidInput
from fanbase.services import mail_content
from fanbase.services.mail_content import MERGE_FIELDS
from fanbase.services.mail_content import CompiledContent
from fanbase.services.mail_content import Content
from fanbase.services.mail_content import Links
from fanbase.services.mail_content import Rendered
from fanbase.services.mail_content import Sender
from fanbase.services.mail_content import compile_content
from fanbase.services.mail_content import render
from fanbase.services.mail_mime import build_html
from fanbase.services.mail_mime import build_mail

NOW = datetime(2024, 5, 1, 14, 30, 5, tzinfo=timezone(timedelta(hours=2)))
SENDER = Sender(name="The Band", address="news@band.example")
MESSAGE_ID = "<m12.r3456.9f8e7d@band.example>"
LINKS = Links(
    unsubscribe_url="https://fanbase.example/u/tok123",
    unsubscribe_mailto="mailto:unsubscribe@band.example?subject=unsubscribe%20tok123",
)
TRACKED = Links(
    unsubscribe_url=LINKS.unsubscribe_url,
    unsubscribe_mailto=LINKS.unsubscribe_mailto,
    open_pixel_url="https://fanbase.example/o/tok123.gif",
    click_url=lambda url: "https://fanbase.example/c/tok123?u=" + quote(url, safe=""),
)
FAN: dict[str, Any] = {
    "email": "zoe@example.com",
    "first_name": "Zoë",
    "last_name": "Durand",
    "country": "FR",
    "city": "Lyon",
    "lifecycle_stage": "customer",
    "total_spent": 150,
    "purchase_count": 3,
    "custom": {"shoe_size": 42},
}


def _compiled(body: str = "", *, subject: str = "News", preheader: str = "") -> CompiledContent:
    return compile_content(Content(subject=subject, preheader=preheader, body=body))


def _raw(rendered: Rendered, *, links: Links = LINKS, to_name: str | None = "Zoë Durand", **kwargs: Any) -> bytes:
    arguments: dict[str, Any] = {"sender": SENDER, "to_address": "zoe@example.com", "message_id": MESSAGE_ID}
    arguments.update(kwargs)
    return build_mail(rendered, to_name=to_name, links=links, now=NOW, **arguments)


def _parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _parts(message: EmailMessage) -> tuple[str, str]:
    text, html = message.iter_parts()
    # The standard parser keeps the CRLF of the wire in the decoded text.
    return tuple(part.get_content().replace("\r\n", "\n") for part in (text, html))  # type: ignore[return-value]


def _mail(body: str, fan: dict[str, Any] | None = None, *, links: Links = LINKS, **content: str) -> EmailMessage:
    return _parsed(_raw(render(_compiled(body, **content), FAN if fan is None else fan), links=links))


# --- structure and headers -------------------------------------------------------------------------------------


def test_a_mail_is_multipart_alternative_with_text_then_html_both_utf8() -> None:
    message = _mail("Hello **{{ first_name }}**")
    assert message.get_content_type() == "multipart/alternative"
    assert message["MIME-Version"] == "1.0"
    text, html = message.iter_parts()
    assert [part.get_content_type() for part in (text, html)] == ["text/plain", "text/html"]
    assert [part.get_content_charset() for part in (text, html)] == ["utf-8", "utf-8"]
    assert {part["Content-Transfer-Encoding"] for part in (text, html)} <= {"quoted-printable", "base64"}
    text, html = _parts(message)
    assert text == f"Hello Zoë\n\nUnsubscribe: {LINKS.unsubscribe_url}\n"
    assert "<p>Hello <strong>Zoë</strong></p>" in html


def test_headers_are_as_given_with_one_click_unsubscribe_and_no_precedence() -> None:
    raw = _raw(render(_compiled("Hi", subject="Tour dates"), FAN))
    message = _parsed(raw)
    assert message["Message-ID"] == MESSAGE_ID
    assert message["Date"] == format_datetime(NOW) == "Wed, 01 May 2024 14:30:05 +0200"
    assert message["Date"].datetime == NOW
    assert message["Subject"] == "Tour dates"
    assert raw.startswith(b'From: "The Band" <news@band.example>\r\n')
    assert message["To"].addresses[0].display_name == "Zoë Durand"
    assert message["To"].addresses[0].addr_spec == "zoe@example.com"
    assert message["List-Unsubscribe"] == f"<{LINKS.unsubscribe_url}>, <{LINKS.unsubscribe_mailto}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Precedence" not in message


def test_a_recipient_without_a_name_gets_the_bare_address() -> None:
    raw = _raw(render(_compiled("Hi"), FAN), to_name=None)
    assert b"\r\nTo: zoe@example.com\r\n" in raw


@pytest.mark.parametrize(
    ("sender_name", "to_name", "subject"),
    [
        ("Zoë & the Bänd", "Jean «JJ» Dupont", "Ce soir à Lyon — on joue ! 🎸"),
        ('The "Band", Ltd', 'Back\\slash "quoted"', "A plain ASCII subject that is long enough to be folded " * 3),
        ("東京バンド", "Zoë Durand-Lefèvre", "東京でのライブ、チケット発売中。" * 8),
        ("=?utf-8?q?not_an_encoded_word?=", "=?x?", "=?utf-8?b?SGk=?= stays as written"),
    ],
)
def test_names_and_subjects_round_trip_through_a_standard_parser(sender_name: str, to_name: str, subject: str) -> None:
    compiled = _compiled("Hi", subject="{{ custom.subject }}")
    rendered = render(compiled, {**FAN, "custom": {"subject": subject}})
    raw = build_mail(
        rendered,
        sender=Sender(name=sender_name, address="news@band.example"),
        to_address="jj@example.com",
        to_name=to_name,
        message_id=MESSAGE_ID,
        links=LINKS,
        now=NOW,
    )
    message = _parsed(raw)
    assert message["Subject"] == " ".join(subject.split())
    assert message["From"].addresses[0].display_name == sender_name.strip()
    assert message["From"].addresses[0].addr_spec == "news@band.example"
    assert message["To"].addresses[0].display_name == " ".join(to_name.split())
    assert all(len(line) <= 78 for line in raw.split(b"\r\n\r\n")[0].split(b"\r\n"))


def test_a_long_name_is_split_into_encoded_words_that_decode_to_it() -> None:
    name = "東京バンド" * 12
    raw = _raw(render(_compiled("Hi"), FAN), to_name=name)
    header = raw.split(b"\r\nTo: ")[1].split(b"\r\nSubject: ")[0].decode("ascii")
    words = header.removesuffix(" <zoe@example.com>").split("\r\n ")
    assert len(words) > 1 and all(len(word) <= 75 for word in words)
    # RFC 2047 joins adjacent encoded-words without the folding space (the legacy decoder does; the new parser
    # keeps a space inside display names, as it does for the email package's own output).
    assert str(make_header(decode_header(" ".join(words)))) == name


def test_line_breaks_in_values_cannot_add_headers() -> None:
    rendered = render(
        _compiled("Hi", subject="Hello {{ first_name }}"), {**FAN, "first_name": "A\r\nBcc: x@evil.example"}
    )
    message = _parsed(_raw(rendered, to_name="Eve\nCc: y@evil.example"))
    assert "Bcc" not in message and "Cc" not in message
    assert message["Subject"] == "Hello A Bcc: x@evil.example"
    assert message["To"].addresses[0].display_name == "Eve Cc: y@evil.example"


def test_lines_end_in_crlf_stay_within_998_bytes_and_the_mail_is_ascii() -> None:
    body = "Line one\nLine two with a tab\tand trailing space   \n\n" + "très long " * 800 + "\n\r\nend\r"
    raw = _raw(render(_compiled(body, subject="Ünïcode " * 20), FAN))
    raw.decode("ascii")
    assert raw.endswith(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    text, _ = _parts(_parsed(raw))
    assert text.startswith("Line one\nLine two with a tab\tand trailing space\n\ntrès long très long")
    assert "\nend\n" in text


def test_text_in_non_latin_scripts_is_sent_as_base64() -> None:
    message = _mail("こんにちは、{{ first_name }}さん。新しいアルバムが出ました。" * 5)
    text, _ = message.iter_parts()
    assert text["Content-Transfer-Encoding"] == "base64"
    assert "こんにちは、Zoëさん。" in _parts(message)[0]


def test_the_same_arguments_give_the_same_bytes() -> None:
    compiled = _compiled("Hello {{ first_name }}, see [the shop](https://shop.example/)")
    assert _raw(render(compiled, FAN), links=TRACKED) == _raw(render(compiled, FAN), links=TRACKED)


def test_build_mail_refuses_unusable_addresses_and_the_callers_mistakes() -> None:
    rendered = render(_compiled("Hi"), FAN)
    for address in ("not an address", "no-at-sign", "zoé@example.com", "a@b@c", "a@-x.example", ""):
        with pytest.raises(InvalidInput) as refused:
            _raw(rendered, to_address=address)
        assert refused.value.field == "to_address"
    with pytest.raises(InvalidInput) as refused:
        _raw(rendered, sender=Sender(name="Band", address="band"))
    assert refused.value.field == "sender"
    with pytest.raises(ValueError, match="timezone-aware"):
        build_mail(
            rendered, sender=SENDER, to_address="a@b.example", to_name=None, message_id=MESSAGE_ID, links=LINKS,
            now=NOW.replace(tzinfo=None),
        )  # fmt: skip
    with pytest.raises(ValueError, match="Message-ID"):
        _raw(rendered, message_id="m12@band.example")
    with pytest.raises(ValueError, match="List-Unsubscribe"):
        _raw(rendered, links=Links(unsubscribe_url="ftp://x", unsubscribe_mailto=LINKS.unsubscribe_mailto))
    with pytest.raises(ValueError, match="List-Unsubscribe"):
        _raw(rendered, links=Links(unsubscribe_url=LINKS.unsubscribe_url, unsubscribe_mailto="mailto:a b@c>"))


def test_an_internationalised_domain_is_sent_in_its_idna_form() -> None:
    message = _parsed(_raw(render(_compiled("Hi"), FAN), to_address="fan@bücher.example"))
    assert message["To"].addresses[0].addr_spec == "fan@xn--bcher-kva.example"


# --- merge fields ----------------------------------------------------------------------------------------------


def test_merge_fields_fill_the_subject_the_preheader_and_the_body() -> None:
    body = " ".join(f"{name}={{{{ {name} }}}}" for name in MERGE_FIELDS if name != "custom") + " {{ custom.shoe_size }}"
    rendered = render(_compiled(body, subject="Hi {{ first_name }}", preheader="From {{ city }}"), FAN)
    assert rendered.subject == "Hi Zoë"
    assert rendered.preheader == "From Lyon"
    assert rendered.text == (
        "email=zoe@example.com first_name=Zoë last_name=Durand country=FR city=Lyon lifecycle_stage=customer "
        "total_spent=150 purchase_count=3 42\n"
    )


@pytest.mark.parametrize(
    ("fan", "expected"),
    [
        ({"first_name": "Zoë"}, "Hi Zoë, 3 orders"),
        ({"first_name": None}, "Hi friend, 3 orders"),
        ({"first_name": ""}, "Hi friend, 3 orders"),
        ({"first_name": " \n "}, "Hi friend, 3 orders"),
        ({}, "Hi friend, 3 orders"),
        ({"first_name": "Zoë", "purchase_count": 0}, "Hi Zoë, 0 orders"),  # 0 is a value, not a missing one
        ({"first_name": "Zoë", "purchase_count": None}, "Hi Zoë, no orders"),
    ],
)
def test_default_stands_in_for_missing_none_and_empty_values(fan: dict[str, Any], expected: str) -> None:
    compiled = _compiled(
        subject='Hi {{ first_name | default("friend", true) }}, {{ purchase_count | default("no") }} orders'
    )
    assert render(compiled, {"purchase_count": 3, **fan}).subject == expected


def test_a_missing_value_renders_as_nothing_and_compares_as_false() -> None:
    body = "[{{ first_name }}] {% if custom.shoe_size > 40 %}big{% else %}small{% endif %} ({{ custom.nothing }})"
    assert render(_compiled(body), {}).text == "[] small ()\n"
    assert render(_compiled(body), {"custom": {"shoe_size": None}}).text == "[] small ()\n"
    assert render(_compiled(body), FAN).text == "[Zoë] big ()\n"


def test_custom_fields_are_read_by_name_and_never_as_methods() -> None:
    body = '{{ custom.shoe_size }}|{{ custom["favourite band"] }}|{{ custom.items | default("no items") }}'
    fan = {"custom": {"shoe_size": 42, "favourite band": "Air"}}
    assert render(_compiled(body), fan).text == "42|Air|no items\n"
    assert render(_compiled(body), {"custom": {"items": "3 items"}}).text == "||3 items\n"


def test_conditions_choose_the_text() -> None:
    body = (
        '{% if lifecycle_stage == "customer" and total_spent > 100 %}\nThanks, **big** fan!\n'
        '{% elif country in ["FR", "BE"] %}\nBienvenue !\n{% else %}\nWelcome!\n{% endif %}\n'
    )
    compiled = _compiled(body)
    assert render(compiled, FAN).html == "<p>Thanks, <strong>big</strong> fan!</p>\n"
    assert render(compiled, {"country": "BE"}).text == "Bienvenue !\n"
    assert render(compiled, {"country": "US"}).text == "Welcome!\n"


def test_filters_format_values() -> None:
    body = (
        "{{ first_name | upper }} {{ last_name | lower }} {{ city | title }} {{ country | capitalize }} "
        "{{ total_spent | round(1) }} {{ purchase_count | int }} {{ custom.bio | truncate(12) }} {{ email | trim }}"
    )
    fan = {**FAN, "total_spent": 150.456, "purchase_count": "7", "custom": {"bio": "A long biography indeed"}}
    assert render(_compiled(body), fan).text == "ZOË durand Lyon Fr 150.5 7 A long biog… zoe@example.com\n"


def test_the_body_template_may_use_every_jinja_test_offered() -> None:
    body = (
        "{% if first_name is defined and first_name is string and total_spent is number %}a{% endif %}"
        "{% if custom.none is undefined and custom.shoe_size is not none %}b{% endif %}"
    )
    assert render(_compiled(body), FAN).text == "ab\n"


# --- escaping ----------------------------------------------------------------------------------------------------

HOSTILE = "*bold* _it_ [x](http://evil.example) <b>&amp; `code` \\* # not a heading"


def test_values_show_literally_in_both_parts_and_cannot_add_markup_or_links() -> None:
    rendered = render(_compiled("{{ first_name }}\n\n**Dear {{ first_name }}**"), {**FAN, "first_name": HOSTILE})
    assert rendered.html == (
        "<p>*bold* _it_ [x](http://evil.example) &lt;b&gt;&amp;amp; `code` \\* # not a heading</p>\n"
        "<p><strong>Dear *bold* _it_ [x](http://evil.example) &lt;b&gt;&amp;amp; `code` \\* # not a heading"
        "</strong></p>\n"
    )
    assert rendered.text == f"{HOSTILE}\n\nDear {HOSTILE}\n"


def test_a_value_cannot_start_a_block_or_break_out_of_its_line() -> None:
    for value in ("# Heading", "1. item", "- item", "> quote", "    code", "---", "a\n\n# b", "<div>x</div>"):
        rendered = render(_compiled("{{ first_name }}"), {"first_name": value})
        assert rendered.html.startswith("<p>"), value
        assert rendered.text == " ".join(value.split()) + "\n"


def test_values_in_code_spans_titles_and_alt_texts_are_escaped_without_backslashes() -> None:
    body = '`{{ last_name }}` [shop](https://shop.example/ "For {{ last_name }}") ![{{ last_name }}](https://i.example/a.png)'
    rendered = render(_compiled(body), {"last_name": "O'Brien & <Co> *x*"})
    assert "<code>O&#x27;Brien &amp; &lt;Co&gt; *x*</code>" in rendered.html
    assert 'title="For O&#x27;Brien &amp; &lt;Co&gt; *x*"' in rendered.html
    assert 'alt="O&#x27;Brien &amp; &lt;Co&gt; *x*"' in rendered.html
    assert rendered.text.startswith("O'Brien & <Co> *x* shop (https://shop.example/) O'Brien & <Co> *x*")


def test_values_in_link_addresses_are_percent_encoded() -> None:
    body = "[Shop](https://shop.example/p/{{ custom.slug }}?email={{ email }}) <https://x.example/{{ email }}>"
    rendered = render(_compiled(body), {"email": "a+b@x.example&admin=1", "custom": {"slug": '../"><script>'}})
    assert 'href="https://shop.example/p/..%2F%22%3E%3Cscript%3E?email=a%2Bb%40x.example%26admin%3D1"' in rendered.html
    assert (
        '<a href="https://x.example/a%2Bb%40x.example%26admin%3D1">https://x.example/a+b@x.example&amp;admin=1</a>'
        in (rendered.html)
    )
    assert rendered.text == (
        "Shop (https://shop.example/p/..%2F%22%3E%3Cscript%3E?email=a%2Bb%40x.example%26admin%3D1) "
        "https://x.example/a+b@x.example&admin=1\n"
    )


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ("[Your ticket]({{ custom.url }})", 1),
        ("x\n\n[a]( <{{ custom.url }}>)", 3),
        ("x\n\n[t]: {{ custom.url }}\n\n[go][t]", 3),
        ("[a](https://{{ custom.host }}.example/)", 1),
        ("[a](https://x.example@{{ custom.host }}/)", 1),
        ("<https://{{ custom.host }}/tickets>", 1),
        ("![photo]({{ custom.photo }})", 1),
        ("[write](mailto:{{ email }})", 1),
        ("{% if city %}\n[a]({{ custom.url }})\n{% endif %}", 2),
    ],
)
def test_a_merge_field_cannot_choose_where_a_link_goes(body: str, line: int) -> None:
    with pytest.raises(InvalidInput, match="a merge field cannot choose where a link goes") as refused:
        _compiled(body)
    assert refused.value.field == "body"
    assert refused.value.message.startswith(f"line {line}: ")


def test_merge_fields_may_fill_a_links_path_query_and_fragment() -> None:
    body = (
        "[a](https://x.example/{{ custom.slug }}?e={{ email }}#{{ city }}) [b](mailto:b@x.example?subject={{ city }})"
    )
    rendered = render(_compiled(body), {**FAN, "custom": {"slug": "a/b"}})
    assert 'href="https://x.example/a%2Fb?e=zoe%40example.com#Lyon"' in rendered.html
    assert 'href="mailto:b@x.example?subject=Lyon"' in rendered.html


def test_a_link_target_made_by_a_condition_and_a_merge_field_is_refused_when_rendered() -> None:
    # With both branches' text the merge field is in the path; for a fan without a city it is the host.
    compiled = _compiled("[Your ticket](https://{% if city %}a.example/{% else %}{{ custom.host }}{% endif %})")
    render(compiled, FAN)
    with pytest.raises(InvalidInput, match="a merge field cannot choose where a link goes") as refused:
        render(compiled, {"custom": {"host": "evil.example"}})
    assert refused.value.field == "body"


def test_raw_html_and_script_links_in_the_body_stay_text() -> None:
    rendered = render(_compiled("<script>alert(1)</script>\n\n[x](javascript:alert(1)) <b>hi</b>"), FAN)
    assert "<script>" not in rendered.html and "<b>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "href" not in rendered.html


def test_subject_and_preheader_are_single_lines_and_escaped_in_the_html() -> None:
    compiled = _compiled("Hi", subject="Hi\n{{ first_name }}  <b>", preheader="{{ first_name }}\n&amp; more")
    rendered = render(compiled, {"first_name": "<i>Zoë</i>"})
    assert (rendered.subject, rendered.preheader) == ("Hi <i>Zoë</i> <b>", "<i>Zoë</i> &amp; more")
    html = build_html(rendered, links=LINKS)
    assert "<title>Hi &lt;i&gt;Zoë&lt;/i&gt; &lt;b&gt;</title>" in html
    assert "&lt;i&gt;Zoë&lt;/i&gt; &amp;amp; more</span>" in html


# --- the text part ---------------------------------------------------------------------------------------------


def test_the_text_part_reads_as_text() -> None:
    body = (
        "# Hello {{ first_name }}\n\nNew *album* out: [listen](https://music.example/a) or <https://m.example>.\n"
        "Write to <band@band.example>.  \nSigned, the band\n\n- one\n- two\n  - nested\n- three\n\n"
        "3. third\n4. fourth\n\n> quoted\n> more\n>\n> again\n\n    code  block\n\n---\n\n"
        "- loose\n\n- list\n\nThe end."
    )
    assert render(_compiled(body), FAN).text == (
        "Hello Zoë\n\n"
        "New album out: listen (https://music.example/a) or https://m.example.\n"
        "Write to band@band.example.\nSigned, the band\n\n"
        "- one\n- two\n  - nested\n- three\n\n"
        "3. third\n4. fourth\n\n"
        "> quoted\n> more\n>\n> again\n\n"
        "    code  block\n\n----\n\n"
        "- loose\n\n- list\n\nThe end.\n"
    )


# --- the HTML part, links and tracking --------------------------------------------------------------------------


class _Outline(HTMLParser):
    """Checks that every element is closed in order, and records the elements and their attributes."""

    VOID = frozenset({"meta", "br", "hr", "img"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.doctype = ""

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        assert self.open.pop() == tag


def _outline(html: str) -> _Outline:
    outline = _Outline()
    outline.feed(html)
    outline.close()
    assert outline.open == []
    return outline


def test_the_html_part_is_a_small_well_formed_document_with_the_preheader_first() -> None:
    _, html = _parts(_mail("# Hi {{ first_name }}\n\nText", preheader="Tickets on sale {{ city }}"))
    outline = _outline(html)
    assert outline.doctype == "doctype html"
    assert ("meta", {"charset": "utf-8"}) in outline.elements
    body_index = [tag for tag, _ in outline.elements].index("body")
    tag, attributes = outline.elements[body_index + 1]
    assert tag == "span"
    assert all(rule in (attributes["style"] or "") for rule in ("display:none", "max-height:0", "overflow:hidden"))
    assert ">Tickets on sale Lyon</span>" in html
    assert "<h1>Hi Zoë</h1>" in html
    assert html.index("<h1>") < html.index(f'<a href="{LINKS.unsubscribe_url}">Unsubscribe</a>')


def test_without_a_preheader_the_body_comes_first() -> None:
    _, html = _parts(_mail("Text"))
    assert "display:none" not in html


def test_with_tracking_off_links_are_as_written_and_there_is_no_pixel() -> None:
    _, html = _parts(_mail("[a](https://a.example/x?y=1&z=2) [m](mailto:band@band.example)"))
    assert '<a href="https://a.example/x?y=1&amp;z=2">a</a>' in html
    assert "<img" not in html


def test_with_tracking_on_body_links_go_through_click_url_and_a_pixel_ends_the_body() -> None:
    body = "[a](https://a.example/x?y=1&z=2) [b](HTTP://b.example) [m](mailto:band@band.example) [r](/relative)"
    message = _mail(body, links=TRACKED)
    text, html = _parts(message)
    outline = _outline(html)
    hrefs = [attributes["href"] for tag, attributes in outline.elements if tag == "a"]
    assert hrefs == [
        "https://fanbase.example/c/tok123?u=" + quote("https://a.example/x?y=1&z=2", safe=""),
        "https://fanbase.example/c/tok123?u=" + quote("HTTP://b.example", safe=""),
        "mailto:band@band.example",
        "/relative",
        LINKS.unsubscribe_url,  # never tracked
    ]
    tag, attributes = outline.elements[-1]
    assert (tag, attributes["src"], attributes["width"], attributes["height"]) == (
        "img",
        TRACKED.open_pixel_url,
        "1",
        "1",
    )
    assert "a (https://a.example/x?y=1&z=2)" in text  # the text part keeps the real addresses


def test_every_mail_ends_with_an_unsubscribe_footer_in_both_parts() -> None:
    text, html = _parts(_mail(""))
    assert text == f"Unsubscribe: {LINKS.unsubscribe_url}\n"
    assert f'<a href="{LINKS.unsubscribe_url}">Unsubscribe</a>' in html


# --- refusals --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "field", "message"),
    [
        (Content("Hi {{ first_name", "", ""), "subject", "line 1: unexpected end of template"),
        (Content("Hi", "", "one\ntwo\n{% if x %}"), "body", "line 3: "),
        (
            Content("Hi", "{{ frist_name }}", ""),
            "preheader",
            "line 1: unknown merge field 'frist_name'; known fields: ",
        ),
        (Content("Hi", "", "\n\n{% for f in email %}x{% endfor %}"), "body", "line 3: {% for %} is not allowed"),
        (Content("Hi", "", "{% macro m() %}x{% endmacro %}"), "body", "{% macro %} is not allowed"),
        (Content("Hi", "", "{% set x = 1 %}"), "body", "{% set %} is not allowed"),
        (Content("Hi", "", "{% set x %}y{% endset %}"), "body", "{% set %} is not allowed"),
        (Content("Hi", "", '{% include "x" %}'), "body", "{% include %} is not allowed"),
        (Content("Hi", "", '{% import "x" as y %}'), "body", "{% import %} is not allowed"),
        (Content("Hi", "", '{% from "x" import y %}'), "body", "{% from %} is not allowed"),
        (Content("Hi", "", '{% extends "x" %}'), "body", "{% extends %} is not allowed"),
        (Content("Hi", "", "{% block b %}{% endblock %}"), "body", "{% block %} is not allowed"),
        (Content("Hi", "", "{% filter upper %}x{% endfilter %}"), "body", "{% filter %} is not allowed"),
        (Content("Hi", "", "{% with a = 1 %}{% endwith %}"), "body", "{% with %} is not allowed"),
        (Content("Hi", "", "{% autoescape false %}{% endautoescape %}"), "body", "{% autoescape %} is not allowed"),
        (Content("Hi", "", "{% do x %}"), "body", "line 1: Encountered unknown tag 'do'"),
        (Content("Hi", "", "{{ first_name | safe }}"), "body", "unknown filter 'safe'; available: default, "),
        (Content("Hi", "", "{{ first_name | format(1) }}"), "body", "unknown filter 'format'"),
        (Content("Hi", "", "{% if email is sameas 1 %}{% endif %}"), "body", "unknown test 'sameas'"),
        (Content("Hi", "", "{{ first_name | default(*x) }}"), "body", "takes plain arguments"),
        (Content("Hi", "", "{{ first_name.upper() }}"), "body", "calling functions or methods is not allowed"),
        (Content("Hi", "", "{{ range(10) }}"), "body", "calling functions or methods is not allowed"),
        (Content("Hi", "", "{{ email.__class__ }}"), "body", "only custom fields have parts"),
        (Content("Hi", "", "{{ first_name[0] }}"), "body", "only custom fields have parts"),
        (Content("Hi", "", "{{ custom.__class__ }}"), "body", "custom field names cannot start with '_'"),
        (Content("Hi", "", "{{ custom }}"), "body", "write custom.<name>"),
        (Content("Hi", "", "{{ custom.a.b }}"), "body", "only custom fields have parts"),
        (Content("Hi", "", '{{ "x" * 10 }}'), "body", "the operator '*' is not allowed"),
        (Content("Hi", "", "{{ 9**9**9 }}"), "body", "the operator '**' is not allowed"),
        (Content("Hi", "", "{{ 1 / 0 }}"), "body", "the operator '/' is not allowed"),
        (Content("Hi", "", '{{ "%s" % email }}'), "body", "the operator '%' is not allowed"),
        (Content("Hi", "", '{{ {"a": 1} }}'), "body", "this expression is not allowed"),
        (Content("x" * 201, "", ""), "subject", "at most 200 characters (this one has 201)"),
        (Content("Hi", "x" * 251, ""), "preheader", "at most 250 characters"),
        (Content("Hi", "", "x" * 100_001), "body", "at most 100,000 characters"),
    ],
)
def test_content_that_cannot_be_sent_is_refused_with_its_field(content: Content, field: str, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        compile_content(content)
    assert refused.value.field == field
    assert message in refused.value.message


def test_the_limits_themselves_are_accepted() -> None:
    compile_content(Content("x" * 200, "x" * 250, "x" * 100_000))


def test_unknown_merge_fields_are_named_with_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as refused:
        _compiled("{{ nickname }}")
    assert refused.value.message == (
        "line 1: unknown merge field 'nickname'; known fields: email, first_name, last_name, country, city, "
        "lifecycle_stage, total_spent, purchase_count, custom.<name>"
    )


def test_custom_field_names_are_checked_when_the_workspace_gives_them() -> None:
    content = Content("Hi {{ custom.shoe_size }}", "", '{{ custom["shoe size"] }}')
    with pytest.raises(InvalidInput, match="unknown custom field 'shoe size'; known custom fields: shoe_size"):
        compile_content(content, custom_fields={"shoe_size"})
    compile_content(content, custom_fields={"shoe_size", "shoe size"})


def test_the_sandbox_itself_refuses_big_operators_should_a_template_reach_it() -> None:
    # Defence in depth: compile_content refuses these before the environment ever sees them.
    template = mail_content._ENVIRONMENT.from_string('{{ "x" * 10**9 }}')
    collector = mail_content._Collector(field="body", prefix=None)
    with pytest.raises(SecurityError, match="not allowed"):
        template.render({mail_content._COLLECTOR: collector})
    template = mail_content._ENVIRONMENT.from_string("{{ email.__class__.__mro__ }}")
    with pytest.raises(SecurityError, match="unsafe"):
        template.render({"email": "a@b.c", mail_content._COLLECTOR: collector})


def test_a_render_that_fails_for_a_fan_names_its_field() -> None:
    compiled = _compiled("Total: {{ total_spent - first_name }}")
    with pytest.raises(InvalidInput, match="cannot be rendered for this fan") as refused:
        render(compiled, FAN)
    assert refused.value.field == "body"
    with pytest.raises(InvalidInput) as refused:
        render(_compiled(subject="{{ first_name + 1 }}"), FAN)
    assert refused.value.field == "subject"


def test_a_rendered_part_is_bounded() -> None:
    fan = {"custom": {"bio": "x" * 20_000}}
    with pytest.raises(InvalidInput, match="over 1,000,000 characters") as refused:
        render(_compiled("{{ custom.bio }}\n" * 51), fan)
    assert refused.value.field == "body"
    with pytest.raises(InvalidInput, match="over 1,000,000 characters") as refused:
        render(_compiled(subject="{{ custom.bio }}" * 12), {"custom": {"bio": "x" * 100_000}})
    assert refused.value.field == "subject"
    render(_compiled("{{ custom.bio }}\n" * 49), fan)


# --- compiled once, rendered many times -------------------------------------------------------------------------


def test_fans_on_the_same_branch_share_one_parsed_body() -> None:
    compiled = _compiled("Hi {{ first_name }}\n{% if total_spent > 100 %}\n**Thanks!**\n{% endif %}\n")
    first = render(compiled, FAN)
    second = render(compiled, {**FAN, "first_name": "*Ana*"})
    assert len(compiled.skeletons) == 1
    assert (first.html, second.html) == (
        "<p>Hi Zoë\n<strong>Thanks!</strong></p>\n",
        "<p>Hi *Ana*\n<strong>Thanks!</strong></p>\n",
    )
    render(compiled, {**FAN, "total_spent": 5})
    assert len(compiled.skeletons) == 2

"""The two checks every browser page gets: it fits the screen, and axe-core
finds no serious or critical violation."""

SERIOUS = {"serious", "critical"}


# The outermost elements that reach past the right edge, to say what overflows.
WIDE_ELEMENTS = """() => {
    const wide = [...document.body.querySelectorAll('*')].filter(
        el => el.getBoundingClientRect().right > window.innerWidth + 1
    );
    return wide
        .filter(el => !wide.includes(el.parentElement))
        .slice(0, 5)
        .map(el => el.tagName.toLowerCase()
            + (el.id ? '#' + el.id : '')
            + (el.className && typeof el.className === 'string'
                ? '.' + el.className.trim().split(/\\s+/).join('.') : '')
            + ' ' + Math.round(el.getBoundingClientRect().right) + 'px');
}"""


def no_horizontal_overflow(page) -> None:
    width, inner = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]"
    )
    if width > inner:
        wide = page.evaluate(WIDE_ELEMENTS)
        raise AssertionError(
            f"{page.url}: scrollWidth {width} > innerWidth {inner}: {wide}"
        )


def serious_violations(page, *, name: str = "", exclude: list[str] | None = None):
    """axe-core's serious and critical violations on the page, one line each.

    ``exclude`` takes CSS selectors of parts that are not this shop's markup
    (a payment provider's card field).
    """
    from axe_playwright_python.sync_playwright import Axe

    context = {"exclude": [[selector] for selector in exclude]} if exclude else None
    results = Axe().run(page, context=context)
    assert results.response["passes"], "axe-core did not run"
    return [
        f"{name or page.url}: {v['id']} ({v['impact']}) {v['help']} "
        f"{[node['target'] for node in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in SERIOUS
    ]


# The widths every page is checked at: a desktop and a phone.
WIDTHS = (1280, 390)


def problems_at_each_width(
    page, *, name: str = "", widths=WIDTHS, exclude: list[str] | None = None
) -> list[str]:
    """Overflow and axe-core's serious violations of the loaded page at each
    width, one line each, then the page back at the width it had.

    The page is resized, not loaded again: Chromium's CPU for a navigation is
    several times that of a relayout, and the browser tests run in both CI
    passes. The pages are server-rendered with CSS media queries, which a
    resize applies as a load at that width would.
    """
    before = page.viewport_size
    problems = []
    try:
        for width in widths:
            page.set_viewport_size({"width": width, "height": 900})
            label = f"{name or page.url} at {width}px"
            try:
                no_horizontal_overflow(page)
            except AssertionError as overflow:
                problems.append(f"{label}: {overflow}")
            problems += serious_violations(page, name=label, exclude=exclude)
    finally:
        page.set_viewport_size(before)
    return problems
